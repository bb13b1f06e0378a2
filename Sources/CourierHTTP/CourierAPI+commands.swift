import CourierBridge
import CourierCore
import CourierEngine
import Foundation
import Hummingbird

extension CourierAPI {
    /// `POST /v1/devices/{device}/commands/{command}[?protocol=mqtt311]`: submits the body as a
    /// command for the device (content type forwarded; at most the command's
    /// `maxPayloadBytes`, else 413; an unconfigured command 404). Answers as
    /// `POST /v1/operations/...` does: 202 with `Location`, `Idempotency-Key` and
    /// `Prefer: wait=N` honoured. `protocol=mqtt311` sends it the 3.1.1 way (the command id
    /// as a topic level).
    @Sendable func submitCommand(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let device = try context.parameters.require("device")
        let name = try context.parameters.require("command")
        let deviceProtocol: DeviceProtocol
        switch request.uri.queryParameters["protocol"].map(String.init) {
        case nil, "mqtt5": deviceProtocol = .mqtt5
        case "mqtt311": deviceProtocol = .mqtt311
        case let other?: return APIResponse.badRequest("protocol must be mqtt5 or mqtt311, not \(other)")
        }
        func refuse(_ code: ReplyCode, _ message: String) -> Response {
            bridge.recordRefusal(code, operation: name, device: device, message: message)
            return APIResponse.error(code, message: message)
        }
        guard let command = bridge.configuration.command(named: name) else {
            return refuse(.unknownOperation, "command \(name) is not configured")
        }
        guard let payload = try await Self.body(of: request, upTo: command.maxPayloadBytes) else {
            return refuse(.payloadTooLarge, "the body is larger than \(command.maxPayloadBytes) bytes, the limit for \(command.name)")
        }
        let outcome = await bridge.submit(CommandSubmission(
            device: device, command: name, payload: payload, contentType: request.headers[.contentType],
            deviceProtocol: deviceProtocol, idempotencyKey: request.headers[.idempotencyKey]))
        return await answer(outcome, payload: payload, wait: WaitPreference.seconds(in: request.headers[values: .prefer]))
    }
}
