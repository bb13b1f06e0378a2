import CourierBridge
import CourierCore
import CourierHTTP
import CourierStore
import CourierTesting
import CourierWorkers
import Foundation
import Hummingbird
import HummingbirdTesting
import MQTT
import Testing

@Suite("health, readiness and metrics", .timeLimit(.minutes(2)))
struct HealthRouteTests {
    @Test("a live server: healthz, readyz, metrics and an echo round trip")
    func liveServer() async throws {
        try await HTTPHarness.run(.live) { _, client in
            let health = try await client.send(.get, "/healthz")
            #expect(health.status == .ok)
            #expect(health.text == #"{"status":"ok"}"#)

            let ready = try await client.send(.get, "/readyz")
            #expect(ready.status == .ok)

            let echo = try await client.send(.post, "/v1/operations/echo?device=m1", headers: [.contentType: "text/plain", .prefer: "wait=10"], body: "ping")
            #expect(echo.status == .ok)
            #expect(echo.text == "ping")

            // Refused over HTTP: counted like a refusal over MQTT.
            let rejectedBefore = Self.value(of: #"courier_rejections_total{reason="unknown_operation"}"#, in: try await client.send(.get, "/metrics").text)
            #expect(try await client.send(.post, "/v1/operations/nope?device=m1", body: "x").status == .notFound)

            let metrics = try await client.send(.get, "/metrics")
            #expect(Self.value(of: #"courier_rejections_total{reason="unknown_operation"}"#, in: metrics.text) == rejectedBefore + 1)
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(metrics.text.contains(#"courier_requests_total{operation="echo",status="200"}"#))
            // Every family the contract names, with buckets fit for sub-millisecond store writes.
            // (`courier_broker_connected` is one gauge for the whole process, which other tests'
            // bridges set to 0 as they stop: only its presence is this test's to check.)
            for family in [
                "courier_request_duration_seconds_bucket", "courier_pending_requests", "courier_retries_total",
                "courier_deadletters_total", "courier_duplicates_total", "courier_broker_connected ",
                #"courier_store_write_seconds_bucket{le="0.0005"}"#, #"courier_request_duration_seconds_bucket{operation="echo",le="0.001"}"#,
            ] {
                #expect(metrics.text.contains(family), "\(family) missing from /metrics")
            }
        }
    }

    @Test("readyz is 503 while the bridge is not connected; metrics 404 without a registry")
    func notReady() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-http-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("courier.sqlite").path)
        defer { try? store.close() }
        // Never run: not connected to any broker.
        let bridge = try Bridge(
            configuration: CourierConfiguration(),
            mqtt: MQTTConfiguration(host: "127.0.0.1", port: 1, clientID: "x"),
            store: store,
            workers: .inMemory(WorkerPool(handlers: BuiltinHandlers.all, concurrency: 1)),
            logger: .test("courier.http.test")
        )
        let app = try makeHTTPApplication(bridge: bridge, registry: nil, address: ("127.0.0.1", 0), tokens: nil, logger: .test("courier.http.test"))
        try await app.test(.router) { client in
            let ready = try await client.send(.get, "/readyz")
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.errorBody?.error.code == "unavailable")
            #expect(try await client.send(.get, "/healthz").status == .ok)
            #expect(try await client.send(.get, "/metrics").status == .notFound)
        }
    }

    /// A sample's value in Prometheus text, 0 when absent.
    static func value(of sample: String, in text: String) -> Double {
        text.split(separator: "\n").first { $0.hasPrefix(sample + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }
}
