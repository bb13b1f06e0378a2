import CourierBridge
import CourierCore
import Hummingbird
import Logging
import Prometheus

/// The bridge's HTTP API: the Asynchronous Request-Reply pattern for clients that do not speak
/// MQTT, and the operator view (requests, dead letters, metrics, health).
///
/// The result is a Hummingbird `Application`, itself a `Service`: run it in the same
/// `ServiceGroup` as the bridge. Nothing starts until it runs. Tests pass port 0, or drive it
/// with HummingbirdTesting.
///
/// | call | answer |
/// |---|---|
/// | `POST /v1/operations/{operation}?device={device}` | 202 + `Location`, `Retry-After`; `Idempotency-Key`; `Prefer: wait=N` (N ≤ 60 s) answers with the result when done |
/// | `GET /v1/requests/{id}` | status JSON (``RequestStatus``) |
/// | `GET /v1/requests/{id}/result` | the reply payload, content type and status; 202 + status JSON while pending |
/// | `DELETE /v1/requests/{id}` | cancels (the device gets 410); 409 when already final |
/// | `GET /v1/requests?state=&device=&operation=&limit=&cursor=` | ``RequestPage``, newest first |
/// | `GET /v1/deadletters?limit=&cursor=` | ``DeadLetterPage``, newest first |
/// | `POST /v1/deadletters/{id}/replay` | 202 + `Location` of the new request |
/// | `GET /metrics` | Prometheus text format from `registry` (404 when nil) |
/// | `GET /healthz`, `GET /readyz` | liveness; readiness = broker connected (503 when not) |
///
/// Every error is `{"error":{"status":..,"code":..,"message":..}}` with that HTTP status.
///
/// With `tokens`, every call but `/healthz` and `/readyz` needs `Authorization: Bearer TOKEN`:
/// a `read` token for `GET`s, a `write` token for the rest (401 `unauthorized` without a valid
/// token, 403 `forbidden` without the scope; see ``BearerAuthMiddleware``).
///
/// - Parameters:
///   - registry: where `/metrics` reads from: the registry behind the process's
///     `PrometheusMetricsFactory` (see ``PrometheusMetrics/bootstrap()``).
///   - address: where to listen; port 0 picks a free one.
///   - tokens: the bearer tokens (`http.tokens`); nil leaves the API open to anyone who can
///     reach it, so it must then listen on a loopback address.
/// - Throws: a ``ConfigError`` on `http.address` when `tokens` is nil and `address` is not a
///   loopback address (``LoopbackRule``).
package func makeHTTPApplication(
    bridge: Bridge,
    registry: PrometheusCollectorRegistry?,
    address: (host: String, port: Int),
    tokens: AccessTokens?,
    logger: Logger
) throws -> some ApplicationProtocol {
    if tokens == nil, let problem = LoopbackRule.problem(address: "\(address.host):\(address.port)") {
        throw ConfigError(key: "http.address", message: problem)
    }
    let api = CourierAPI(bridge: bridge, registry: registry)
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: ErrorBodyMiddleware())
    router.add(middleware: LogRequestsMiddleware(.debug))
    if let tokens { router.add(middleware: BearerAuthMiddleware(tokens: tokens)) }
    api.register(on: router)
    return Application(
        router: router,
        configuration: ApplicationConfiguration(
            address: .hostname(address.host, port: address.port),
            serverName: "courier"
        ),
        logger: logger
    )
}

/// The route handlers; one extension per resource.
struct CourierAPI: Sendable {
    let bridge: Bridge
    let registry: PrometheusCollectorRegistry?

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/operations/:operation", use: submit)
        router.post("/v1/devices/:device/commands/:command", use: submitCommand)
        router.get("/v1/requests", use: list)
        router.get("/v1/requests/:id", use: status)
        router.get("/v1/requests/:id/result", use: result)
        router.get("/v1/requests/:id/events", use: events)
        router.delete("/v1/requests/:id", use: cancel)
        router.get("/v1/deadletters", use: deadLetters)
        router.post("/v1/deadletters/:id/replay", use: replay)
        router.get("/metrics", use: metrics)
        router.get("/healthz", use: health)
        router.get("/readyz", use: readiness)
    }
}
