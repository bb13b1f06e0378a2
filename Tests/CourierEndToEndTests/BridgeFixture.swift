import CourierTesting
import Foundation
import MQTT
import Synchronization

/// A broker, a real `courier bridge` process and a fake worker that answers per operation:
/// `echo`, `tiny`, `acked`, `telemetry.summary` echo back; `slow` stays silent; `failing`
/// answers 500; `orphan` has no worker at all.
struct BridgeFixture {
    let broker: MosquittoBroker
    let bridge: CourierDaemon
    let worker: FakeWorker
    let directory: URL
    let configPath: String
    /// `--store` for every bridge started, when the store is not in ``directory``.
    let storeArguments: [String]
    /// Bridges started again by ``restartBridge()``, stopped with the fixture even when a test fails.
    private let restarted = Restarted()

    static let operations = """
          - name: echo
            timeout: 10s
            attemptTimeout: 3s
          - name: tiny
            maxPayloadBytes: 16
          - name: acked
            ack: true
          - name: telemetry.summary
            content: json
          - name: slow
            timeout: 1500ms
            attemptTimeout: 400ms
            maxAttempts: 2
          - name: failing
          - name: orphan
        """

    /// `echo` with a deadline far beyond any test's own time, for tests that hold a request
    /// across a kill or a full disk: with the whole suite in parallel on two cores such a test
    /// has taken 26-35 s, and `operations`' 10 s deadline then rightly answered the held
    /// requests 504. Attempts still time out after 3 s, so an outcome the full disk refused is
    /// retried soon; the last attempt has until the deadline.
    static let unhurried = """
          - name: echo
            timeout: 5m
            attemptTimeout: 3s
        """

    static let policy: FakeWorker.Policy = { work in
        switch work.message.topic.split(separator: "/").last {
        case "slow": nil
        case "failing": (500, Data("{\"error\":{\"status\":500,\"code\":\"worker_error\",\"message\":\"boom\"}}".utf8))
        default: (200, work.message.payload)
        }
    }

    /// - Parameters:
    ///   - store: the store's path, when not in the fixture's directory.
    ///   - operations: the `operations:` entries of the bridge's config.
    static func with(
        limits: String = "",
        store: String? = nil,
        operations: String = BridgeFixture.operations,
        policy: @escaping FakeWorker.Policy = BridgeFixture.policy,
        _ body: (BridgeFixture) async throws -> Void
    ) async throws {
        try await withBroker(persistence: true) { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-e2e-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker, limits: limits, operations: operations)
            let worker = try await FakeWorker.start(
                on: broker,
                operations: ["echo", "tiny", "acked", "telemetry.summary", "slow", "failing"],
                policy: policy
            )
            let storeArguments = store.map { ["--store", $0] } ?? []
            let bridge = try await CourierDaemon.start(["bridge", "--config", config] + storeArguments, readyLine: "bridge started", directory: directory)
            let fixture = BridgeFixture(broker: broker, bridge: bridge, worker: worker, directory: directory, configPath: config, storeArguments: storeArguments)
            do {
                try await body(fixture)
            } catch {
                print("bridge log:\n\(bridge.log)")
                await fixture.stopAll()
                throw error
            }
            await fixture.stopAll()
            // Kept when the body failed, for the logs.
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// Starts the bridge again on the same store and config (after a kill).
    func restartBridge() async throws -> CourierDaemon {
        let daemon = try await CourierDaemon.start(["bridge", "--config", configPath] + storeArguments, readyLine: "bridge started", directory: directory)
        restarted.daemons.withLock { $0.append(daemon) }
        return daemon
    }

    private func stopAll() async {
        await bridge.stop()
        for daemon in restarted.daemons.withLock({ $0 }) { await daemon.stop() }
        await worker.stop()
    }

    private final class Restarted: Sendable {
        let daemons = Mutex<[CourierDaemon]>([])
    }
}

/// A configuration whose `echo` retries fast (attempts time out after 500 ms, up to five of
/// them within 10 s), for tests that kill a worker holding a request.
func writeQuickRetryConfig(in directory: URL, broker: MosquittoBroker) throws -> String {
    try writeCourierConfig(
        in: directory,
        broker: broker,
        operations: """
              - name: echo
                timeout: 10s
                attemptTimeout: 500ms
                maxAttempts: 5
            """
    )
}
