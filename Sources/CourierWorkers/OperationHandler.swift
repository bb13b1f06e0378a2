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
}
