import CourierCore
import Hummingbird

/// Turns the errors Hummingbird raises itself (no such route, a body over the limit) and any
/// error a handler lets escape into the API's `ErrorBody` JSON, so that clients parse one error
/// shape everywhere.
struct ErrorBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let status = error.status.code
            let message = error.body ?? (status == 404 ? "no route for \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            return APIResponse.error(status: status, code: Self.code(for: status), message: message, headers: error.headers)
        } catch let error as any HTTPResponseError {
            let status = error.status.code
            return APIResponse.error(status: status, code: Self.code(for: status), message: error.status.reasonPhrase)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "http.path": "\(request.uri.path)"])
            return APIResponse.error(status: 500, code: "internal_error", message: "the request failed")
        }
    }

    static func code(for status: Int) -> String {
        switch status {
        case 400: ReplyCode.badRequest.rawValue
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 413: ReplyCode.payloadTooLarge.rawValue
        case 503: ReplyCode.unavailable.rawValue
        default: status >= 500 ? "internal_error" : "http_error"
        }
    }
}
