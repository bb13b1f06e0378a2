import CourierCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Builds the API's answers: JSON bodies, `ErrorBody` errors and the result of a request.
enum APIResponse {
    static let jsonContentType = "application/json"

    /// A JSON answer, keys sorted.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return body(try encoder.encode(value), status: status, contentType: jsonContentType, headers: headers)
        } catch {
            return self.error(status: 500, code: "internal_error", message: "the answer could not be encoded: \(error)")
        }
    }

    /// Bytes with a content type (none when nil).
    static func body(_ data: Data, status: HTTPResponse.Status, contentType: String?, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        if let contentType { headers[.contentType] = contentType }
        headers[.contentLength] = "\(data.count)"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `{"error":{"status":..,"code":..,"message":..}}` with that status.
    static func error(status: Int, code: String, message: String, headers: HTTPFields = [:]) -> Response {
        body(
            ErrorBody(status: status, code: code, message: message).encoded(),
            status: httpStatus(status),
            contentType: ErrorBody.contentType,
            headers: headers
        )
    }

    /// An error with one of the contract's codes; 429 and 503 say when to try again.
    static func error(_ code: ReplyCode, message: String) -> Response {
        var headers: HTTPFields = [:]
        if code.status == 429 || code.status == 503 { headers[.retryAfter] = "1" }
        return error(status: code.status, code: code.rawValue, message: message, headers: headers)
    }

    static func notFound(_ message: String) -> Response {
        error(status: 404, code: "not_found", message: message)
    }

    static func badRequest(_ message: String) -> Response {
        error(status: 400, code: ReplyCode.badRequest.rawValue, message: message)
    }

    /// The store failed; logged, and answered 503 so the client retries.
    static func storeUnavailable(_ error: any Error, logger: Logger) -> Response {
        logger.error("store read failed", metadata: ["error": "\(error)"])
        return self.error(.unavailable, message: "the request store is unavailable")
    }

    /// `202 Accepted` with the status JSON, `Location` of the status resource and `Retry-After`.
    static func accepted(_ record: RequestRecord) -> Response {
        json(RequestStatus(record), status: .accepted, headers: [.location: location(of: record), .retryAfter: "1"])
    }

    /// The answer of `GET /v1/requests/{id}/result`: the final reply as the worker (or the bridge)
    /// gave it, its status as the HTTP status; 202 with the status JSON while pending.
    ///
    /// Headers: `Courier-Status` (the reply status), `Courier-Error` (the error code, on errors),
    /// `Courier-State` (the request's state), `Location` (the status resource).
    static func result(_ record: RequestRecord) -> Response {
        guard record.state.isFinal else { return accepted(record) }
        let status = record.replyStatus ?? fallbackStatus(record.state)
        var headers: HTTPFields = [
            .courierStatus: "\(status)",
            .courierState: record.state.rawValue,
            .location: location(of: record),
        ]
        if status >= 400, let code = record.replyCode { headers[.courierError] = code }
        return body(record.replyPayload ?? Data(), status: httpStatus(status), contentType: record.replyContentType, headers: headers)
    }

    static func location(of record: RequestRecord) -> String { "/v1/requests/\(record.id)" }

    /// The status of a final record that has none stored (not expected to happen).
    private static func fallbackStatus(_ state: RequestState) -> Int {
        switch state {
        case .cancelled: ReplyCode.cancelled.status
        case .expired: ReplyCode.timeout.status
        case .rejected: ReplyCode.badRequest.status
        default: ReplyCode.workerError.status
        }
    }

    /// A reply status as an HTTP status; anything outside 200...599 (a worker's odd choice)
    /// becomes 502, since it cannot stand as a final HTTP answer.
    static func httpStatus(_ status: Int) -> HTTPResponse.Status {
        (200...599).contains(status) ? HTTPResponse.Status(code: status) : .badGateway
    }
}

extension HTTPField.Name {
    /// The client's key for duplicate suppression: same key, same device and operation within
    /// retention, same request.
    package static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// RFC 7240 preferences; Courier honours `wait=N`.
    package static let prefer = HTTPField.Name("Prefer")!
    /// The reply status of a final result.
    package static let courierStatus = HTTPField.Name("Courier-Status")!
    /// The error code of a final result that is an error.
    package static let courierError = HTTPField.Name("Courier-Error")!
    /// The state of the request a result belongs to.
    package static let courierState = HTTPField.Name("Courier-State")!
    /// The id of the last Server-Sent Event a reconnecting client saw.
    package static let lastEventID = HTTPField.Name("Last-Event-ID")!
    /// Tells a reverse proxy (nginx) not to buffer an event stream.
    static let accelBuffering = HTTPField.Name("X-Accel-Buffering")!
}
