import CourierCore

/// An error that a handler throws to answer with a status of its choosing. The device gets the
/// status and the body `{"error":{"status":..,"code":..,"message":..}}`, so write the message for
/// the person reading it: what is wrong and, where it helps, what to send instead.
///
/// ```swift
/// guard !input.readings.isEmpty else { throw HandlerError.badRequest("readings must not be empty") }
/// ```
public struct HandlerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// HTTP-style status (4xx for the device's mistakes, 5xx for the worker's).
    public var status: Int
    /// A short machine-readable code (`bad_request`, or one of your own like `sensor_unknown`).
    public var code: String
    /// What went wrong, for people.
    public var message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// An error with one of the contract's codes and its status.
    public init(_ code: ReplyCode, _ message: String) {
        self.init(status: code.status, code: code.rawValue, message: message)
    }

    /// 400 `bad_request`: the payload is not what the operation takes.
    public static func badRequest(_ message: String) -> HandlerError { HandlerError(.badRequest, message) }

    /// 413 `payload_too_large`.
    public static func payloadTooLarge(_ message: String) -> HandlerError { HandlerError(.payloadTooLarge, message) }

    /// 500 `worker_error`: the handler failed and it is not the device's fault.
    public static func workerError(_ message: String) -> HandlerError { HandlerError(.workerError, message) }

    /// 503 `unavailable`: try again later (a resource the handler needs is down).
    public static func unavailable(_ message: String) -> HandlerError { HandlerError(.unavailable, message) }

    /// 504 `timeout`: the handler gave up waiting on something.
    public static func timeout(_ message: String) -> HandlerError { HandlerError(.timeout, message) }

    /// The error reply's JSON body.
    public var body: ErrorBody { ErrorBody(status: status, code: code, message: message) }

    public var description: String { "\(status) \(code): \(message)" }
}
