import CoreMetrics
import CourierCore
import HTTPTypes
import Hummingbird
import Logging

/// Lets through only the requests whose bearer token grants the scope their call needs
/// (``AccessPolicy``): 401 `unauthorized` with `WWW-Authenticate: Bearer` without a valid
/// token, 403 `forbidden` when the token lacks the scope; `/healthz` and `/readyz` are open.
///
/// Every refusal is logged (method, path, reason and the token's name, never the token) and
/// counted in `courier_http_auth_failures_total{reason}`, `reason` being `missing_token`,
/// `invalid_token` or `insufficient_scope`.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: AccessPolicy
    private let missing = Counter(label: "courier_http_auth_failures_total", dimensions: [("reason", "missing_token")])
    private let invalid = Counter(label: "courier_http_auth_failures_total", dimensions: [("reason", "invalid_token")])
    private let insufficient = Counter(label: "courier_http_auth_failures_total", dimensions: [("reason", "insufficient_scope")])

    init(tokens: AccessTokens) {
        policy = AccessPolicy(tokens: tokens)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let method = request.method
        let path = request.uri.path
        switch policy.decide(method: method, path: path, authorization: request.headers[values: .authorization]) {
        case .open, .allowed:
            return try await next(request, context)
        case .missingToken:
            missing.increment()
            log(context, method: method, path: path, reason: "missing_token", token: nil)
            return APIResponse.error(
                status: 401, code: "unauthorized",
                message: "this API needs a bearer token: send Authorization: Bearer TOKEN",
                headers: [.wwwAuthenticate: #"Bearer realm="courier""#]
            )
        case .invalidToken:
            invalid.increment()
            log(context, method: method, path: path, reason: "invalid_token", token: nil)
            return APIResponse.error(
                status: 401, code: "unauthorized",
                message: "the bearer token is not one this API knows",
                headers: [.wwwAuthenticate: #"Bearer realm="courier", error="invalid_token""#]
            )
        case .insufficientScope(let token, let required):
            insufficient.increment()
            log(context, method: method, path: path, reason: "insufficient_scope", token: token)
            return APIResponse.error(
                status: 403, code: "forbidden",
                message: "\(method) \(path) needs a \(required.rawValue) token; this one is \(token.scope.rawValue) only",
                headers: [.wwwAuthenticate: #"Bearer realm="courier", error="insufficient_scope", scope="\#(required.rawValue)""#]
            )
        }
    }

    private func log(_ context: Context, method: HTTPRequest.Method, path: String, reason: String, token: AccessToken?) {
        var metadata: Logger.Metadata = ["http.method": "\(method)", "http.path": "\(path)", "auth.reason": "\(reason)"]
        if let token { metadata["auth.token"] = "\(token.label)" }
        context.logger.info("HTTP request refused", metadata: metadata)
    }
}
