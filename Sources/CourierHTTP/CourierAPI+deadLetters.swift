import CourierBridge
import CourierCore
import CourierEngine
import CourierStore
import Hummingbird

extension CourierAPI {
    /// `GET /v1/deadletters?limit=&cursor=`: a ``DeadLetterPage`` (requests that ended `failed`
    /// or `rejected`), newest first. 400 for a bad limit or cursor.
    @Sendable func deadLetters(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        let limit: Int
        switch Self.limit(parameters["limit"]) {
        case .success(let value): limit = value
        case .failure(let message): return APIResponse.badRequest(message.text)
        }
        let cursor = parameters["cursor"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        do {
            let page = try bridge.store.deadLetters(limit: limit, before: cursor)
            return APIResponse.json(DeadLetterPage(deadLetters: page.records.map(DeadLetter.init), next: page.next))
        } catch StoreError.badCursor {
            return APIResponse.badRequest("cursor is not one this API handed out; start again without it")
        } catch {
            return APIResponse.storeUnavailable(error, logger: context.logger)
        }
    }

    /// `POST /v1/deadletters/{id}/replay`: runs a dead letter again as a new request with a
    /// fresh deadline; 202 with the new request's status JSON and `Location`. 404 when `id` is
    /// not a dead letter (unknown, not failed or rejected, or its operation is no longer
    /// configured); the contract's error status when it cannot run (413 for a truncated
    /// payload, 400, 429, 503).
    @Sendable func replay(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        do {
            switch try await bridge.replay(deadLetterID: id) {
            case nil:
                return APIResponse.notFound("no dead letter \(id) whose operation is configured")
            case .refused(let code, let message)?:
                return APIResponse.error(code, message: message)
            case .accepted(let copy)?, .duplicate(let copy)?:
                context.logger.info("dead letter replayed over HTTP", metadata: ["request.id": "\(copy.id)", "deadletter.id": "\(id)"])
                return APIResponse.accepted(copy)
            }
        } catch {
            return APIResponse.storeUnavailable(error, logger: context.logger)
        }
    }
}
