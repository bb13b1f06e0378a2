import CourierCore
import CourierStore
import Hummingbird

extension CourierAPI {
    /// The largest page `GET /v1/requests` and `GET /v1/deadletters` give.
    static let maximumLimit = 1000
    /// The page size when `limit` is not given.
    static let defaultLimit = 50

    /// `GET /v1/requests/{id}`: the status JSON; 404 `not_found` for an unknown id.
    @Sendable func status(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        do {
            guard let record = try bridge.store.record(id: id) else { return APIResponse.notFound("no request \(id)") }
            return APIResponse.json(RequestStatus(record, progress: bridge.latestProgress(of: id)))
        } catch {
            return APIResponse.storeUnavailable(error, logger: context.logger)
        }
    }

    /// `GET /v1/requests/{id}/result`: the final reply (its status, payload and content type),
    /// or 202 with the status JSON while the request is pending.
    @Sendable func result(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        do {
            guard let record = try bridge.store.record(id: id) else { return APIResponse.notFound("no request \(id)") }
            return APIResponse.result(record)
        } catch {
            return APIResponse.storeUnavailable(error, logger: context.logger)
        }
    }

    /// `DELETE /v1/requests/{id}`: cancels a pending request (the device gets 410) and answers
    /// with its status JSON; 404 for an unknown id, 409 `conflict` when it is already final.
    @Sendable func cancel(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        do {
            guard let record = try bridge.store.record(id: id) else { return APIResponse.notFound("no request \(id)") }
            if let cancelled = await bridge.cancel(id: id) {
                context.logger.info("request cancelled over HTTP", metadata: ["request.id": "\(id)", "device.id": "\(record.device)"])
                return APIResponse.json(RequestStatus(cancelled))
            }
            // Final already, or it became final between the read and the cancel.
            let state = try bridge.store.record(id: id)?.state ?? record.state
            return APIResponse.error(status: 409, code: "conflict", message: "request \(id) is already final (\(state.rawValue))")
        } catch {
            return APIResponse.storeUnavailable(error, logger: context.logger)
        }
    }

    /// `GET /v1/requests?state=&device=&operation=&limit=&cursor=`: a ``RequestPage``, newest
    /// first. 400 for an unknown state, a limit outside 1...1000, or a cursor not handed out.
    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        var query = RequestQuery()
        if let state = parameters["state"].map(String.init), !state.isEmpty {
            guard let parsed = RequestState(rawValue: state) else {
                let states = RequestState.allCases.map(\.rawValue).joined(separator: ", ")
                return APIResponse.badRequest("state must be one of \(states)")
            }
            query.state = parsed
        }
        if let device = parameters["device"].map(String.init), !device.isEmpty { query.device = device }
        if let operation = parameters["operation"].map(String.init), !operation.isEmpty { query.operation = operation }
        switch Self.limit(parameters["limit"]) {
        case .success(let limit): query.limit = limit
        case .failure(let message): return APIResponse.badRequest(message.text)
        }
        query.before = parameters["cursor"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        do {
            let page = try bridge.store.list(query)
            return APIResponse.json(RequestPage(requests: page.records.map { RequestStatus($0) }, next: page.next))
        } catch StoreError.badCursor {
            return APIResponse.badRequest("cursor is not one this API handed out; start again without it")
        } catch {
            return APIResponse.storeUnavailable(error, logger: context.logger)
        }
    }

    /// The `limit` query parameter: ``defaultLimit`` when absent, else a whole number in
    /// 1...``maximumLimit``.
    static func limit(_ text: Substring?) -> Result<Int, ParameterError> {
        guard let text, !text.isEmpty else { return .success(defaultLimit) }
        guard let limit = Int(text), (1...maximumLimit).contains(limit) else {
            return .failure(ParameterError(text: "limit must be a whole number from 1 to \(maximumLimit)"))
        }
        return .success(limit)
    }
}

/// A query parameter that cannot be used, with the message for the client.
struct ParameterError: Error {
    var text: String
}
