import CourierCore
import CourierTesting
import Foundation
import MQTT
import Testing

@testable import CourierWorkers

/// `workers.dispatch: direct` end to end: a real `courier bridge`, two workers of uneven cost
/// that take work only on their own topics, a device asking over MQTT.
@Suite(.timeLimit(.minutes(2)))
struct DirectDispatchTests {
    @Test func theFastWorkerGetsMostOfTheWork() async throws {
        try await withBroker { broker in
            let tally = Tally()
            let suffix = UUID().uuidString.prefix(8)
            // Equal concurrency, unequal cost: the broker's shared-subscription round robin
            // would give each half the work. The slow worker's cost is long enough that, once
            // it holds two attempts, the loops go to the fast one however loaded the machine.
            let fast = makeWorker(
                broker, pool: WorkerPool(handlers: [CostlyEcho(name: "fast", cost: .milliseconds(5), tally: tally)], concurrency: 2),
                workerID: "a-fast-\(suffix)", dispatch: .direct)
            let slow = makeWorker(
                broker, pool: WorkerPool(handlers: [CostlyEcho(name: "slow", cost: .seconds(2), tally: tally)], concurrency: 2),
                workerID: "b-slow-\(suffix)", dispatch: .direct)
            try await withWorkers([fast, slow]) { _ in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-direct-\(suffix)")
                let config = try Self.writeConfig(in: directory, broker: broker)
                let bridge = try await CourierDaemon.start(["bridge", "--config", config], readyLine: "bridge started", directory: directory)
                let device = try await broker.connectedClient("device")
                let replies = MessageInbox.draining(device)
                try await device.subscribe("devices/dev-1/replies/#")

                // Four devices' worth of closed-loop load: each asks again once answered.
                let statuses = try await withThrowingTaskGroup(of: [String?].self) { group in
                    for loop in 0..<4 {
                        group.addTask {
                            var statuses: [String?] = []
                            for index in 0..<10 {
                                let reply = try await Self.ask(device, replies, "l\(loop)-\(index)", within: .seconds(30))
                                statuses.append(reply.properties.userProperty("status"))
                            }
                            return statuses
                        }
                    }
                    return try await group.reduce(into: []) { $0 += $1 }
                }
                await device.shutdown()
                #expect(await bridge.stop() == 0)
                #expect(statuses.count == 40)
                #expect(statuses.allSatisfy { $0 == "200" })
                let counts = tally.counts
                #expect(counts["fast", default: 0] + counts["slow", default: 0] == 40)
                // Most of it: shared dispatch would split it evenly. (With a 300 ms slow worker
                // the whole suite on two cores once brought the fast one down to 24 of 40.)
                #expect(counts["fast", default: 0] * 5 > 40 * 3, "\(counts)")
            }
        }
    }

    @Test func aWorkerGoneWithoutClearingItsPresenceIsSkippedAtOnce() async throws {
        try await withBroker { broker in
            let tally = Tally()
            let suffix = UUID().uuidString.prefix(8)
            // A worker that disconnected without its Will: retained presence, no subscription.
            // Its id sorts first and it announces the most capacity, so it is chosen first.
            let ghost = try await broker.connectedClient("ghost")
            let presence = WorkerPresence(id: "a-ghost-\(suffix)", operations: ["work"], concurrency: 100, startedAt: Date())
            try await ghost.publish(Topics().presence(presence.id), payload: presence.encoded(), retain: true)
            await ghost.shutdown()
            let live = makeWorker(
                broker, pool: WorkerPool(handlers: [CostlyEcho(name: "live", cost: .zero, tally: tally)], concurrency: 2),
                workerID: "b-live-\(suffix)", dispatch: .direct)
            try await withWorkers([live]) { _ in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-direct-\(suffix)")
                let bridge = try await CourierDaemon.start(
                    ["bridge", "--config", try Self.writeConfig(in: directory, broker: broker)], readyLine: "bridge started", directory: directory)
                let device = try await broker.connectedClient("device")
                let replies = MessageInbox.draining(device)
                try await device.subscribe("devices/dev-1/replies/#")
                for index in 0..<3 {
                    // Well within the 10 s attempt timeout: not left to the attempt timer.
                    let reply = try await Self.ask(device, replies, "g-\(index)", within: .seconds(5))
                    #expect(reply.properties.userProperty("status") == "200")
                }
                await device.shutdown()
                #expect(await bridge.stop() == 0)
                #expect(tally.counts == ["live": 3])
            }
        }
    }

    /// Publishes a `work` request of dev-1 and waits for its reply.
    static func ask(_ device: MQTTClient, _ replies: MessageInbox, _ correlation: String, within limit: Duration) async throws -> MQTTMessage {
        let correlation = Data(correlation.utf8)
        try await device.publish(
            "devices/dev-1/requests/work", payload: Data("x".utf8),
            properties: MQTTProperties(responseTopic: "devices/dev-1/replies/rpc", correlationData: correlation))
        return try await replies.wait(within: limit) { $0.properties.correlationData == correlation }[0]
    }

    static func writeConfig(in directory: URL, broker: MosquittoBroker) throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let yaml = """
            broker:
              url: \(broker.url)
            bridge:
              id: direct-test
            store:
              path: \(directory.path)/courier.sqlite
            http:
              address: 127.0.0.1:0
            operations:
              - name: work
                timeout: 20s
                attemptTimeout: 10s
            workers:
              dispatch: direct
            """
        let path = directory.appendingPathComponent("courier.yaml").path
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Answers with its payload after a fixed cost, counting its answers under its name.
struct CostlyEcho: OperationHandler {
    let operation = "work"
    let name: String
    let cost: Duration
    let tally: Tally

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        try await Task.sleep(for: cost)
        tally.add(name)
        return HandlerResponse(payload: request.payload)
    }
}

/// Counts by name.
final class Tally: Sendable {
    private let state = Shared<[String: Int]>([:])
    var counts: [String: Int] { state.value }
    func add(_ name: String) { state.update { $0[name, default: 0] += 1 } }
}
