import CourierCore

/// Serves one operation: takes a request's payload and properties, returns the reply.
///
/// A handler is shared by every request of its operation and runs concurrently with itself, so
/// it must be `Sendable`; keep state in an actor or not at all. To fail with a status of your
/// choosing throw a ``HandlerError``; any other error becomes 500 `worker_error`. A returned
/// ``HandlerResponse`` may carry any status, which reaches the device as it is.
///
/// For JSON in and JSON out, conform to ``JSONOperationHandler`` instead and write only the typed
/// function.
///
/// ```swift
/// struct Reverse: OperationHandler {
///     let operation = "reverse"
///
///     func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
///         HandlerResponse(payload: Data(request.payload.reversed()), contentType: request.contentType)
///     }
/// }
/// ```
public protocol OperationHandler: Sendable {
    /// The operation this handler serves, as configured (`telemetry.summary`).
    var operation: String { get }

    /// Answers one attempt at one request.
    func handle(_ request: HandlerRequest) async throws -> HandlerResponse

    /// Whether an attempt may start on the thread that hands it over (the network thread of
    /// `courier serve`, or of the worker daemon's work connection) and run there until its
    /// first suspension (`Task.immediate`), instead of in a task that waits for a thread of the
    /// pool. A handler that answers without suspending then needs no thread hand-off, neither
    /// to start nor to answer (figures in Benchmarks/README.md). Default `false`.
    ///
    /// Say `true` only for a handler that returns, or first awaits, within microseconds: what it
    /// does before its first `await` holds up all the traffic of that connection meanwhile.
    var startsImmediately: Bool { get }
}

extension OperationHandler {
    public var startsImmediately: Bool { false }
}
