import CourierBridge
import CourierCore
import CourierEngine
import Foundation
import Hummingbird
import NIOCore

extension CourierAPI {
    /// `POST /v1/operations/{operation}?device={device}`: submits the body as a request of
    /// `device` (content type forwarded; at most the operation's `maxPayloadBytes`, else 413).
    /// Answers 202 with `Location` and `Retry-After`; with `Prefer: wait=N`, waits up to N
    /// seconds and answers as `GET .../result` would once the request is final. An
    /// `Idempotency-Key` already used with a different body is answered 422
    /// `idempotency_key_reused`; with the same body, the original request is answered.
    @Sendable func submit(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let operationName = try context.parameters.require("operation")
        guard let device = request.uri.queryParameters["device"].map(String.init), !device.isEmpty else {
            return APIResponse.badRequest("the device query parameter is required: POST /v1/operations/\(operationName)?device={device}")
        }
        func refuse(_ code: ReplyCode, _ message: String) -> Response {
            bridge.recordRefusal(code, operation: operationName, device: device, message: message)
            return APIResponse.error(code, message: message)
        }
        guard let operation = bridge.configuration.operation(named: operationName) else {
            return refuse(.unknownOperation, "operation \(operationName) is not configured")
        }
        guard let payload = try await Self.body(of: request, upTo: operation.maxPayloadBytes) else {
            return refuse(.payloadTooLarge, "the body is larger than \(operation.maxPayloadBytes) bytes, the limit for \(operation.name)")
        }
        let wait = WaitPreference.seconds(in: request.headers[values: .prefer])
        let idempotencyKey = request.headers[.idempotencyKey]

        let outcome = await bridge.submit(
            operation: operation.name,
            device: device,
            payload: payload,
            contentType: request.headers[.contentType],
            idempotencyKey: idempotencyKey
        )
        return await answer(outcome, payload: payload, wait: wait)
    }

    /// The request's body, or nil when it is larger than `limit` bytes (by its
    /// `Content-Length`, or once that many have arrived).
    static func body(of request: Request, upTo limit: Int) async throws -> Data? {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { return nil }
        do {
            return Data(try await request.body.collect(upTo: limit).readableBytesView)
        } catch is NIOTooManyBytesError {
            return nil
        }
    }

    /// The answer to a submission (an operation's request or a command): 202 with its
    /// `Location`, or its result once final within `wait` seconds; 422 for an
    /// `Idempotency-Key` used with another body.
    func answer(_ outcome: SubmitOutcome, payload: Data, wait: Int?) async -> Response {
        let record: RequestRecord
        switch outcome {
        case .accepted(let accepted):
            record = accepted
        case .duplicate(let original):
            guard original.payload == payload else {
                let message = "this Idempotency-Key was already used for request \(original.id) with a different body; use a new key"
                return APIResponse.error(status: 422, code: "idempotency_key_reused", message: message)
            }
            record = original
        case .refused(let code, let message):
            return APIResponse.error(code, message: message)
        }
        guard let wait, wait > 0 else { return APIResponse.accepted(record) }
        do {
            let latest = try await bridge.waitUntilFinal(id: record.id, within: .seconds(wait)) ?? record
            return APIResponse.result(latest)
        } catch {
            return APIResponse.accepted(record)
        }
    }
}
