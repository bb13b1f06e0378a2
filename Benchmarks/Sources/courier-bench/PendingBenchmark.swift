import ArgumentParser
import CourierDevices
import CourierTesting
import Foundation
import Logging
import MQTT
import Synchronization

/// `courier-bench pending`: the bridge's memory with many requests pending, and a SIGKILL
/// under them: how soon the restarted bridge is ready, and how soon it answers the requests
/// whose deadline passed while it was down.
///
/// A worker takes every request and never answers, so all of them stay pending until their
/// deadline; the bridge is killed just as the first deadlines pass.
struct PendingBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pending",
        abstract: "Bridge RSS with N requests pending, then ready time and timer resumption after a SIGKILL."
    )

    @Option(help: "Requests left pending.")
    var requests = 100_000

    @Option(help: "Devices sending them (each keeps 8 in flight).")
    var devices = 100

    @Option(help: "The requests' deadline in seconds: it must leave time to send them all.")
    var deadline = 120

    func run() async throws {
        guard requests % devices == 0 else { throw ValidationError("--requests must be a multiple of --devices") }
        let binary = try CourierDaemon.requireBinary()
        try await withBroker { broker in
            let url = broker.url
            BenchReport.printHeader(broker: BenchBroker(url: url, isPrivate: true), details: [("courier", binary)])
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-bench-pending-\(UUID().uuidString)")
            let perDevice = requests / devices
            let config = try writeCourierConfig(
                in: directory,
                broker: broker,
                limits: "  maxPendingPerDevice: \(perDevice + 10)\n  maxPendingTotal: \(requests * 2)",
                operations: """
                      - name: hold
                        timeout: \(deadline)s
                        attemptTimeout: \(deadline)s
                        maxAttempts: 1
                    """
            )
            let loop = try MQTTEventLoop(label: "bench-pending", logger: Self.logger)
            let holder = try await Self.holdingWorker(url: url, loop: loop)
            var bridge = try await CourierDaemon.start(["bridge", "--config", config], readyLine: "bridge started", directory: directory)
            let replies = ReplyCount()
            let fleet = try await Self.devices(devices, url: url, loop: loop, replies: replies)

            let started = ContinuousClock.now
            BenchReport.progress("sending \(requests) requests from \(devices) devices")
            try await withThrowingDiscardingTaskGroup { group in
                for (index, device) in fleet.enumerated() {
                    group.addTask {
                        try await withThrowingDiscardingTaskGroup { lanes in
                            for lane in 0..<8 {
                                lanes.addTask {
                                    for sequence in stride(from: lane, to: perDevice, by: 8) {
                                        try await device.publish(
                                            "devices/p\(index)/requests/hold",
                                            payload: Data(repeating: 0x61, count: 64),
                                            properties: .init(responseTopic: "devices/p\(index)/replies/x", correlationData: Data("\(sequence)".utf8))
                                        )
                                    }
                                }
                            }
                        }
                    }
                }
            }
            try await Self.wait("the worker holds all \(requests)", within: .seconds(Double(deadline))) { holder.taken.value >= requests }
            let filled = ContinuousClock.now
            let rss = ResidentMemory.bytes(pid: bridge.pid) ?? 0
            let peak = ResidentMemory.peakBytes(pid: bridge.pid) ?? 0
            BenchReport.output("pending:  \(requests) requests sent and held in \(Self.seconds(started.duration(to: filled))) s")
            BenchReport.output("rss:      \(rss / 1_048_576) MB with \(requests) pending (peak \(peak / 1_048_576) MB while filling)")

            // Killed as the first deadlines pass: those are overdue when the bridge returns.
            let firstDeadline = started + .seconds(deadline)
            try await Task.sleep(until: firstDeadline, clock: .continuous)
            await bridge.kill()
            let killed = ContinuousClock.now
            bridge = try await CourierDaemon.start(["bridge", "--config", config], readyLine: "bridge started", directory: directory)
            let ready = ContinuousClock.now
            try await Self.wait("the first 504", within: .seconds(60)) { replies.timeouts.load(ordering: .relaxed) > 0 }
            let firstTimeout = ContinuousClock.now
            try await Self.wait("all \(requests) answered 504", within: .seconds(Double(deadline) + 120)) {
                replies.timeouts.load(ordering: .relaxed) >= requests
            }
            let allAnswered = ContinuousClock.now
            let rssAfter = ResidentMemory.bytes(pid: bridge.pid) ?? 0
            BenchReport.output("restart:  ready \(Self.seconds(killed.duration(to: ready))) s after the SIGKILL")
            BenchReport.output("timers:   first overdue request answered 504 \(Self.seconds(killed.duration(to: firstTimeout))) s after the SIGKILL")
            BenchReport.output("          all \(requests) answered 504 \(Self.seconds(firstDeadline.duration(to: allAnswered))) s after the first deadline (sending them took \(Self.seconds(started.duration(to: filled))) s)")
            BenchReport.output("replies:  \(replies.timeouts.load(ordering: .relaxed)) × 504, \(replies.other.load(ordering: .relaxed)) other")
            BenchReport.output("rss:      \(rssAfter / 1_048_576) MB after answering them")
            _ = await bridge.stop()
            for device in fleet { await device.shutdown() }
            await holder.client.shutdown()
            await loop.shutdown()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    static let logger: Logger = {
        var logger = Logger(label: "courier-bench.pending")
        logger.logLevel = .warning
        return logger
    }()

    /// A worker that takes every `hold` request and never answers.
    static func holdingWorker(url: String, loop: MQTTEventLoop) async throws -> HoldingWorker {
        let taken = Counter()
        var configuration = try MQTTConfiguration(url: url, clientID: "bench-holder")
        configuration.eventLoop = loop
        let client = MQTTClient(configuration: configuration, logger: logger, onMessage: { _ in taken.add() })
        try await client.connect()
        try await client.subscribe("$share/courier-workers/courier/work/hold")
        let presence = Data(#"{"id":"bench-holder","operations":["hold"],"concurrency":1000000}"#.utf8)
        try await client.publish("courier/workers/bench-holder", payload: presence, retain: true)
        return HoldingWorker(client: client, taken: taken)
    }

    static func devices(_ count: Int, url: String, loop: MQTTEventLoop, replies: ReplyCount) async throws -> [MQTTClient] {
        var clients: [MQTTClient] = []
        for index in 0..<count {
            var configuration = try MQTTConfiguration(url: url, clientID: "bench-p\(index)")
            configuration.eventLoop = loop
            let client = MQTTClient(configuration: configuration, logger: logger, onMessage: { replies.record($0) })
            try await client.connect()
            try await client.subscribe("devices/p\(index)/replies/#")
            clients.append(client)
        }
        return clients
    }

    static func wait(_ what: String, within limit: Duration, until condition: () -> Bool) async throws {
        try await eventually(what, within: limit) { condition() }
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}

/// The worker that holds every request, and how many it took.
struct HoldingWorker: Sendable {
    let client: MQTTClient
    let taken: Counter
}

/// A count shared with a network-thread hook.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func add() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

/// Replies the devices got: 504s and anything else.
final class ReplyCount: Sendable {
    let timeouts = Atomic<Int>(0)
    let other = Atomic<Int>(0)

    func record(_ message: MQTTMessage) {
        if message.properties.userProperty("status") == "504" {
            timeouts.add(1, ordering: .relaxed)
        } else {
            other.add(1, ordering: .relaxed)
        }
    }
}
