import CourierTestTraits
import CourierTesting
import Foundation
import MQTT
import Testing

/// A hostile-input storm against a real mosquitto and the real binaries: `courier devices
/// storm` sends generated bad input from MQTT 5 and 3.1.1 clients and raw connections (every
/// category of `HostileInput`, each variant at least once), with good requests in among it,
/// while the test watches the bridge process. The short version of `courier-bench storm`.
@Suite(.timeLimit(.minutes(3)), .heavyLoad)
struct HostileStormTests {
    /// The parts of `courier devices storm --json` the assertions read.
    struct Report: Decodable {
        struct Hostile: Decodable {
            var sent: Int
            var viaWire: Int
            var refusedByBroker: [String: Int]
            var disconnectedByBroker: [String: Int]
            var byCategory: [String: Int]
        }

        struct Good: Decodable {
            var sent: Int
            var answeredCorrectly: Int
            var wrong: Int
            var missing: Int
            var duplicates: Int
            var interim: Int
        }

        struct Memory: Decodable {
            var afterWarmUp: Int
            var peak: Int
        }

        var seed: UInt64
        var token: String
        var hostile: Hostile
        var good: Good
        var strays: Int
        var unsolicited: Int
        var afterStormMilliseconds: Double?
        var memory: Memory?
        var bridgeAlive: Bool?
        var samples: [String]
    }

    /// How much the bridge may grow over the storm: at most twice its size after the warm-up,
    /// plus 64 MB. Measured on the 2-core CI machine (debug build, 3,000 messages): `courier
    /// serve` 51 MB after the warm-up and 83-100 MB at its peak, flat over three storms in a
    /// row (so no leak, but SQLite's page cache and the 300 KB payloads in flight); the bound
    /// leaves room for a noisy run, and a leak of a few KB per message would still cross it.
    static func memoryBound(afterWarmUp: Int) -> Int { 2 * afterWarmUp + 64 * 1_048_576 }

    /// Runs `courier devices storm` against the bridge `pid` and returns its report.
    static func storm(on broker: MosquittoBroker, bridgePID: Int32, messages: Int, good: Int, seed: Int) async throws -> (Report, Command.Output) {
        let output = try await Command.run(
            CourierDaemon.binary,
            [
                "devices", "storm", "--broker", broker.url, "--messages", "\(messages)", "--good", "\(good)",
                "--seed", "\(seed)", "--bridge-pid", "\(bridgePID)", "--bridge-id", "test", "--json",
                // Good replies take under a second here: a bridge that stops answering fails
                // the test in tens of seconds, not minutes.
                "--reply-timeout", "10s",
            ],
            timeout: .seconds(150)
        )
        let report = try JSONDecoder().decode(Report.self, from: Data(output.stdout.utf8))
        return (report, output)
    }

    /// The assertions every storm must pass, whichever daemons answer.
    static func expectSurvived(_ report: Report, _ output: Command.Output, messages: Int, good: Int) {
        let context = "seed \(report.seed) token \(report.token)\n\(report.samples.joined(separator: "\n"))\n\(output.stderr.suffix(3000))"
        #expect(output.status == 0, "\(context)")
        #expect(report.hostile.sent == messages)
        #expect(report.hostile.byCategory.count == 25, "every category: \(report.hostile.byCategory.keys.sorted())")
        #expect(report.hostile.viaWire > 0)
        // The broker disconnected hostile senders, and they came back to send the rest.
        #expect(report.hostile.disconnectedByBroker.values.reduce(0, +) > 0)
        #expect(report.good.sent == good)
        #expect(report.good.answeredCorrectly == good, "\(context)")
        #expect(report.good.wrong == 0 && report.good.missing == 0 && report.good.duplicates == 0 && report.good.interim == 0, "\(context)")
        #expect(report.strays == 0, "the bystander got messages: \(context)")
        #expect(report.unsolicited == 0, "good devices got messages they did not ask for: \(context)")
        #expect(report.bridgeAlive == true)
        let afterStorm = report.afterStormMilliseconds ?? .infinity
        #expect(afterStorm < 1000, "a request after the storm took \(afterStorm) ms")
        if let memory = report.memory {
            #expect(
                memory.peak < memoryBound(afterWarmUp: memory.afterWarmUp),
                "bridge RSS peaked at \(memory.peak / 1_048_576) MB, \(memory.afterWarmUp / 1_048_576) MB after the warm-up"
            )
        } else {
            Issue.record("no memory figures: \(context)")
        }
    }

    /// A request from a fresh device after the storm gets its answer. How fast is a figure for
    /// `courier-bench storm` (target: under a second), not a bound for a test that shares two
    /// cores with the rest of the suite: here it once took 1.01 s.
    static func expectAnsweredAfterTheStorm(on broker: MosquittoBroker) async throws {
        let device = try await Device.connect("after-storm", to: broker)
        try await device.ask("echo", Data("still there?".utf8), correlation: "after-1")
        let reply = try await device.reply(to: "after-1", within: .seconds(10))
        #expect(reply.status == 200 && reply.text == "still there?")
        await device.shutdown()
    }

    /// What the bridge logged at warning and above, and its last lines, for a failure message.
    static func logExcerpt(_ log: String) -> String {
        let lines = log.split(separator: "\n")
        let notable = lines.filter { !$0.contains("level=info") && !$0.contains("level=debug") }.prefix(40)
        return (notable + ["…"] + lines.suffix(20)).joined(separator: "\n")
    }

    @Test
    func courierServeSurvivesAHostileStormAndAnswersEveryGoodRequest() async throws {
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-storm-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker)
            let serve = try await CourierDaemon.start(["serve", "--config", config], readyLine: "bridge started", directory: directory)
            let (report, output) = try await Self.storm(on: broker, bridgePID: serve.pid, messages: 3_000, good: 300, seed: 11)
            Self.expectSurvived(report, output, messages: 3_000, good: 300)
            #expect(serve.isRunning)
            try await Self.expectAnsweredAfterTheStorm(on: broker)
            let status = await serve.stop()
            #expect(status == 0, "\(Self.logExcerpt(serve.log))")
        }
    }

    @Test
    func courierBridgeAndWorkerSurviveAHostileStorm() async throws {
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-storm-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker)
            let worker = try await CourierDaemon.start(["worker", "--config", config], readyLine: "worker started", directory: directory)
            let bridge = try await CourierDaemon.start(["bridge", "--config", config], readyLine: "bridge started", directory: directory)
            let (report, output) = try await Self.storm(on: broker, bridgePID: bridge.pid, messages: 2_000, good: 200, seed: 12)
            Self.expectSurvived(report, output, messages: 2_000, good: 200)
            #expect(bridge.isRunning && worker.isRunning)
            try await Self.expectAnsweredAfterTheStorm(on: broker)
            let status = await bridge.stop()
            #expect(status == 0, "\(Self.logExcerpt(bridge.log))")
            #expect(await worker.stop() == 0, "\(Self.logExcerpt(worker.log))")
        }
    }
}
