/// The status codes of the contract (HTTP-style) with their error codes.
public enum ReplyCode: String, Sendable, Codable, CaseIterable {
    case ok
    case accepted
    case badRequest = "bad_request"
    case unknownOperation = "unknown_operation"
    case cancelled
    case payloadTooLarge = "payload_too_large"
    case busy
    case workerError = "worker_error"
    case noWorker = "no_worker"
    case unavailable
    case timeout
    case forbiddenResponseTopic = "forbidden_response_topic"

    /// The HTTP-style status sent with this code.
    public var status: Int {
        switch self {
        case .ok: 200
        case .accepted: 202
        case .badRequest: 400
        case .forbiddenResponseTopic: 403
        case .unknownOperation: 404
        case .cancelled: 410
        case .payloadTooLarge: 413
        case .busy: 429
        case .workerError: 500
        case .noWorker, .unavailable: 503
        case .timeout: 504
        }
    }

    /// The code a worker's bare status maps to, used when a worker replies with an error status
    /// of its own.
    package static func forStatus(_ status: Int) -> ReplyCode? {
        switch status {
        case 200: .ok
        case 202: .accepted
        case 400: .badRequest
        case 404: .unknownOperation
        case 410: .cancelled
        case 413: .payloadTooLarge
        case 429: .busy
        case 500: .workerError
        case 503: .unavailable
        case 504: .timeout
        default: nil
        }
    }
}
