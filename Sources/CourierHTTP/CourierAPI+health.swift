import CourierCore
import Hummingbird

extension CourierAPI {
    /// The Prometheus text exposition format, version 0.0.4.
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `GET /metrics`: every metric of the registry in the Prometheus text format.
    @Sendable func metrics(_ request: Request, context: BasicRequestContext) async throws -> Response {
        guard let registry else { return APIResponse.notFound("metrics are not enabled in this process") }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16_384)
        registry.emit(into: &bytes)
        return Response(
            status: .ok,
            headers: [.contentType: Self.metricsContentType, .contentLength: "\(bytes.count)"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }

    /// `GET /healthz`: the process answers; `{"status":"ok"}`.
    @Sendable func health(_ request: Request, context: BasicRequestContext) async throws -> Response {
        APIResponse.json(["status": "ok"])
    }

    /// `GET /readyz`: 200 `{"status":"ready"}` when the broker is connected and the store open,
    /// else 503 `unavailable`.
    @Sendable func readiness(_ request: Request, context: BasicRequestContext) async throws -> Response {
        if let reason = bridge.notReadyReason { return APIResponse.error(.unavailable, message: reason) }
        do {
            _ = try bridge.store.pendingCount()
        } catch {
            return APIResponse.error(.unavailable, message: "the request store cannot be read")
        }
        return APIResponse.json(["status": "ready"])
    }
}
