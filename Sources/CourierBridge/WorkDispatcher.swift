import CourierEngine
import CourierWorkers
import Foundation

/// Hands worker attempts to workers. The bridge has one; `courier bridge` dispatches over MQTT
/// to worker daemons, `courier serve` in memory to handlers in the same process.
package protocol WorkDispatcher: Sendable {
    /// Whether some live worker serves the operation; when none does, requests are answered
    /// 503 `no_worker` at once.
    func hasWorker(for operation: String) -> Bool

    /// Sends one attempt without waiting for it to be taken; `completion` says what became of
    /// the send, and must not block. A send that failed is left to the attempt timer.
    func dispatch(_ request: HandlerRequest, completion: @escaping @Sendable (DispatchOutcome) -> Void)

    /// Tells the workers that a request was cancelled: the handler running it is cancelled and
    /// its answer dropped. The request's attempt ends too (no ``attemptEnded(requestID:)``
    /// needed).
    func cancel(requestID: String)

    /// The request's current attempt is over: its worker answered (finally), it timed out, or
    /// the request ended. Direct dispatch counts the attempts it has in flight per worker
    /// until then; call it from every place an attempt ends.
    func attemptEnded(requestID: String)
}

/// Where a dispatcher reports an attempt's result when the result does not come back over
/// the bridge's own MQTT reply topic.
package typealias ResultSink = @Sendable (_ requestID: String, _ result: HandlerResponse) -> Void

/// Where a dispatcher reports a request's progress (status 102, with a percentage 0-100 when
/// the handler gave one) and heartbeats (status 202) when they do not come back over the
/// bridge's own MQTT reply topic. Neither is a final reply.
package typealias ProgressSink = @Sendable (
    _ requestID: String, _ status: Int, _ percent: Int?, _ payload: Data, _ contentType: String?
) -> Void
