import CourierEngine
import CourierWorkers

/// Hands worker attempts to workers. The bridge has one; `courier bridge` dispatches over MQTT
/// to worker daemons, `courier serve` in memory to handlers in the same process.
public protocol WorkDispatcher: Sendable {
    /// Whether some live worker serves the operation; when none does, requests are answered
    /// 503 `no_worker` at once.
    func hasWorker(for operation: String) -> Bool

    /// Sends one attempt without waiting for it to be taken; `completion` says what became of
    /// the send, and must not block. A send that failed is left to the attempt timer.
    func dispatch(_ request: HandlerRequest, completion: @escaping @Sendable (DispatchOutcome) -> Void)

    /// Tells the workers that a request ended without them: the handler running it is
    /// cancelled and its answer dropped.
    func cancel(requestID: String)
}

/// Where a dispatcher reports an attempt's result when the result does not come back over
/// the bridge's own MQTT reply topic.
public typealias ResultSink = @Sendable (_ requestID: String, _ result: HandlerResponse) -> Void
