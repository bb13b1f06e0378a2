import CourierBridge
import CourierCore
import CourierHTTP
import CourierStore
import CourierTesting
import CourierWorkers
import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Logging
import MQTT
import NIOCore

/// A running bridge (real mosquitto, real store in a temporary directory, in-memory workers)
/// and its HTTP API.
struct HTTPHarness: Sendable {
    let broker: MosquittoBroker
    let bridge: Bridge
    let store: SQLiteStore
    let pool: WorkerPool
    let gate: Gate
    let long: LongHandler

    /// The operations the tests configure: the built-in ones and the test handlers'.
    static let operations: [OperationConfig] =
        CourierConfiguration.defaultOperations + [
            OperationConfig(name: "test.gated", timeout: .seconds(60), attemptTimeout: .seconds(60), maxAttempts: 1),
            OperationConfig(name: "test.flaky", timeout: .seconds(10), maxAttempts: 1),
            OperationConfig(name: "test.long", timeout: .seconds(60), attemptTimeout: .seconds(60), maxAttempts: 1),
        ]

    /// Starts a broker, a store and a bridge, runs `body` against the API (with `tokens`, if
    /// any) through `setup`, then lets pending work finish and stops everything.
    static func run(
        _ setup: TestingSetup = .router,
        tokens: AccessTokens? = nil,
        _ body: @escaping @Sendable (HTTPHarness, any TestClientProtocol) async throws -> Void
    ) async throws {
        let registry = PrometheusMetrics.bootstrap()
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-http-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let store = try SQLiteStore(path: directory.appendingPathComponent("courier.sqlite").path)
            var configuration = CourierConfiguration()
            configuration.bridgeID = "http-\(UUID().uuidString.prefix(8))"
            configuration.operations = operations
            let gate = Gate()
            let long = LongHandler()
            let pool = WorkerPool(handlers: BuiltinHandlers.all + [GatedHandler(gate: gate), FlakyHandler(), long], concurrency: 4)
            let logger = Logger.test("courier.http.test")
            let bridge = try Bridge(
                configuration: configuration,
                mqtt: MQTTConfiguration(host: "127.0.0.1", port: broker.port, clientID: "x"),
                store: store,
                workers: .inMemory(pool),
                logger: logger
            )
            let running = Task { try await bridge.run() }
            let harness = HTTPHarness(broker: broker, bridge: bridge, store: store, pool: pool, gate: gate, long: long)
            do {
                try await eventually("bridge ready") { bridge.notReadyReason == nil }
                let app = try makeHTTPApplication(bridge: bridge, registry: registry, address: ("127.0.0.1", 0), tokens: tokens, logger: logger)
                try await app.test(setup) { client in try await body(harness, client) }
            } catch {
                await harness.stop(running)
                throw error
            }
            await harness.stop(running)
        }
    }

    /// Opens the gate, waits for the workers to go idle, then stops the bridge.
    private func stop(_ running: Task<Void, any Error>) async {
        gate.open()
        try? await eventually("workers idle") { pool.inFlight == 0 }
        running.cancel()
        _ = await running.result
    }
}

// MARK: Requests and answers

extension TestClientProtocol {
    /// Sends a request; `body` as UTF-8 text.
    func send(
        _ method: HTTPRequest.Method,
        _ uri: String,
        headers: HTTPFields = [:],
        body: String? = nil
    ) async throws -> TestResponse {
        try await send(method, uri, headers: headers, bytes: body.map { Data($0.utf8) })
    }

    /// Sends a request with a binary body.
    func send(_ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields = [:], bytes: Data?) async throws -> TestResponse {
        try await execute(uri: uri, method: method, headers: headers, body: bytes.map { ByteBuffer(bytes: $0) })
    }
}

extension TestResponse {
    var data: Data { Data(body.readableBytesView) }
    var text: String { String(decoding: data, as: UTF8.self) }

    func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: data)
    }

    /// The `ErrorBody` of an error answer.
    var errorBody: ErrorBody? { try? decode(ErrorBody.self) }

    func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
}

extension HTTPFields {
    static let json: HTTPFields = [.contentType: "application/json"]
}

/// Waits for a request to reach a final state, through the API.
func finalStatus(_ client: any TestClientProtocol, id: String) async throws -> RequestStatus {
    var latest: RequestStatus?
    try await eventually("request \(id) final") {
        let status: RequestStatus = try await client.send(.get, "/v1/requests/\(id)").decode()
        latest = status
        return status.state.isFinal
    }
    return latest!
}
