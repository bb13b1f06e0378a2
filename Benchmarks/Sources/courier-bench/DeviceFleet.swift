import CourierTesting
import Foundation
import Logging
import MQTT

/// Simulated devices: one MQTT 5 client each, sending QoS 1 requests to
/// `devices/{id}/requests/{operation}` with Response Topic `devices/{id}/replies/bench` and
/// Correlation Data, and checking every reply through a ``ReplyLedger``.
struct DeviceFleet: Sendable {
    let ledger: ReplyLedger
    private let clients: [MQTTClient]
    private let requestTopics: [String]
    private let replyTopics: [String]

    var count: Int { clients.count }

    /// How often requests are checked for their timeout.
    static let sweepInterval: Duration = .milliseconds(100)

    /// Device ids `bench-000`, `bench-001`...
    static func deviceID(_ index: Int) -> String {
        "bench-" + String(repeating: "0", count: max(0, 3 - String(index).count)) + String(index)
    }

    /// Connects `devices` clients, each subscribed to its reply topic, runs `body`, and shuts
    /// every client down, whether `body` threw or not. A request without a reply after
    /// `timeout` ends as ``RequestOutcome/timeout``.
    static func with<T>(
        brokerURL: String,
        devices: Int,
        operation: String,
        timeout: Duration,
        _ body: (DeviceFleet) async throws -> T
    ) async throws -> T {
        let ids = (0..<devices).map(deviceID)
        let replyTopics = ids.map { "devices/\($0)/replies/bench" }
        let ledger = ReplyLedger(replyTopics: replyTopics)
        var logger = Logger(label: "courier-bench.device")
        logger.logLevel = .warning
        var clients: [MQTTClient] = []
        for (index, id) in ids.enumerated() {
            let configuration = try MQTTConfiguration(url: brokerURL, clientID: MQTTConfiguration.uniqueClientID(prefix: "bench-device-\(id)"))
            clients.append(MQTTClient(configuration: configuration, logger: logger, onMessage: { message in ledger.receive(message, device: index) }))
        }
        let fleet = DeviceFleet(
            ledger: ledger,
            clients: clients,
            requestTopics: ids.map { "devices/\($0)/requests/\(operation)" },
            replyTopics: replyTopics
        )
        let sweeper = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: sweepInterval)
                ledger.expire(startedBefore: .now - timeout)
            }
        }
        do {
            try await fleet.connect()
            let result = try await body(fleet)
            sweeper.cancel()
            await fleet.shutdown()
            return result
        } catch {
            sweeper.cancel()
            await fleet.shutdown()
            throw error
        }
    }

    /// Connects every client (a few at a time) and subscribes it to its reply topic.
    private func connect() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, client) in clients.enumerated() {
                if index >= 8 { try await group.next() }
                let topic = replyTopics[index]
                group.addTask {
                    try await withTimeout(.seconds(10), "connecting device \(index)") {
                        try await client.connect()
                        try await client.subscribe(topic, qos: .atLeastOnce)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    private func shutdown() async {
        await withDiscardingTaskGroup { group in
            for client in clients { group.addTask { await client.shutdown() } }
        }
    }

    /// Sends one request from `device` and waits for its outcome; the round trip is timed from
    /// `start` (an open-loop run passes the time the request was due).
    func request(device: Int, start: ContinuousClock.Instant = .now) async throws -> RequestOutcome {
        let (sequence, correlation, payload) = ledger.register(device: device, start: start)
        let properties = MQTTProperties(responseTopic: replyTopics[device], correlationData: correlation)
        do {
            let ack = try await clients[device].publish(requestTopics[device], payload: payload, qos: .atLeastOnce, properties: properties)
            if !ack.isDelivered { ledger.resolve(sequence, .undelivered(ack.reasonCode)) }
        } catch {
            ledger.forget(sequence)
            throw error
        }
        return await ledger.wait(for: sequence)
    }
}
