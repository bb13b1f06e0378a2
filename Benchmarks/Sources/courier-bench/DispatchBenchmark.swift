import ArgumentParser
import CourierCore
import CourierProcess
import CourierTesting
import CourierWorkers
import Foundation
import Logging
import MQTT
import Synchronization

/// `courier-bench dispatch`: `workers.dispatch: shared` against `direct` with handlers of uneven
/// cost. A real `courier bridge` per mode, two workers in this process (a fast and a slow one,
/// equal concurrency: the broker's round robin gives each half the work), and a closed loop of
/// requests over MQTT. The figures: requests/s, latency, and the fast worker's share.
struct DispatchBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch",
        abstract: "courier bridge with a fast and a slow worker: shared vs direct dispatch."
    )

    @OptionGroup var brokerOptions: BrokerOptions

    @Option(help: "Each worker's concurrency.")
    var concurrency = 4

    @Option(help: "The fast worker's cost per request, in ms.")
    var fastMs = 2

    @Option(help: "The slow worker's cost per request, in ms.")
    var slowMs = 40

    @Option(help: "Requests in flight at once (closed loop).")
    var outstanding = 8

    @Option(help: "Measured time per mode.")
    var duration = BenchDuration(argument: "10s")!

    @Option(help: "Unmeasured time first, per mode.")
    var warmUp = BenchDuration(argument: "2s")!

    struct Result: Sendable {
        let mode: CourierConfiguration.Workers.Dispatch
        let latencies: [Duration]
        let elapsed: Duration
        let fast: Int
        let slow: Int
        let errors: Int
    }

    func run() async throws {
        let binary = try CourierDaemon.requireBinary()
        try await brokerOptions.withBroker { broker in
            BenchReport.printHeader(
                broker: broker,
                details: [
                    ("courier", "\(binary) bridge, operation work (timeout 30s, attemptTimeout 20s)"),
                    ("workers", "2 in this process, concurrency \(concurrency) each: fast \(fastMs) ms, slow \(slowMs) ms per request (a sleep)"),
                    ("load", "\(outstanding) requests in flight (closed loop), MQTT 5 QoS 1; \(duration) measured after \(warmUp)"),
                ])
            BenchReport.output()
            var table = TextTable("dispatch", "req/s", "p50 ms", "p99 ms", "fast worker's share", "errors")
            for mode in CourierConfiguration.Workers.Dispatch.allCases {
                BenchReport.progress("measuring \(mode)")
                let result = try await measure(mode, broker: broker)
                let total = max(1, result.fast + result.slow)
                let stats = LatencyStats(result.latencies)
                table.add(
                    mode.rawValue, (Double(stats.count) / result.elapsed.seconds).text(0), stats.p50.milliseconds.text(1),
                    stats.p99.milliseconds.text(1), "\((100 * Double(result.fast) / Double(total)).text(1)) %", "\(result.errors)")
            }
            BenchReport.output(table)
        }
    }

    private func measure(_ mode: CourierConfiguration.Workers.Dispatch, broker: BenchBroker) async throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-bench-dispatch-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let counts = Shared<[String: Int]>([:])
        let suffix = UUID().uuidString.prefix(6)
        var logger = Logger(label: "courier-bench.worker")
        logger.logLevel = .warning
        let workers = try [("fast", fastMs), ("slow", slowMs)].map { name, cost in
            WorkerService(
                pool: WorkerPool(handlers: [TalliedWork(name: name, cost: cost, counts: counts)], concurrency: concurrency),
                mqtt: try MQTTConfiguration(url: broker.url, clientID: ""), workerID: "\(name)-\(suffix)",
                dispatch: mode == .direct ? .direct : .shared, logger: logger)
        }
        let running = workers.map { worker in Task { try await worker.run() } }
        defer { for task in running { task.cancel() } }
        let ids = workers.map(\.workerID)
        try await Self.waitForPresence(of: ids, broker: broker)

        let config = directory.appendingPathComponent("courier.yaml")
        try Data(Self.configuration(broker: broker, directory: directory, mode: mode).utf8).write(to: config)
        let bridge = try await CourierDaemon.start(["bridge", "--config", config.path], readyLine: "bridge started", directory: directory)
        defer { bridge.signal(SIGKILL) }

        let replies = PendingReplies()
        let errors = Shared(0)
        let hook: MQTTClient.MessageHook = { message in
            if message.properties.userProperty("status") != "200" { errors.update { $0 += 1 } }
            replies.hook(message)
        }
        let (latencies, elapsed) = try await broker.withClient("device", onMessage: hook) { client in
            try await client.subscribe("devices/bench/replies/#")
            let start = ContinuousClock.now
            let measureFrom = start + warmUp.duration, end = measureFrom + duration.duration
            let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
                for _ in 0..<outstanding {
                    group.addTask {
                        var latencies: [Duration] = []
                        while ContinuousClock.now < end {
                            let (id, correlation) = replies.makeID()
                            let sent = ContinuousClock.now
                            try await client.publish(
                                "devices/bench/requests/work", payload: Data("x".utf8),
                                properties: MQTTProperties(responseTopic: "devices/bench/replies/rpc", correlationData: correlation))
                            try await replies.wait(for: id)
                            if sent >= measureFrom { latencies.append(ContinuousClock.now - sent) }
                        }
                        return latencies
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            return (latencies, ContinuousClock.now - measureFrom)
        }
        _ = await bridge.stop()
        // Cancelled outside a service group, a worker disconnects without its Will: clear its
        // retained presence for the next mode's bridge.
        for task in running { task.cancel() }
        for task in running { _ = try? await task.value }
        try await broker.withClient("presence") { client in
            for id in ids { try await client.publish(Topics().presence(id), payload: Data(), retain: true) }
        }
        let tally = counts.value
        return Result(mode: mode, latencies: latencies, elapsed: elapsed, fast: tally["fast", default: 0], slow: tally["slow", default: 0], errors: errors.value)
    }

    /// Returns once every worker's retained presence is on the broker.
    private static func waitForPresence(of ids: [String], broker: BenchBroker) async throws {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        try await broker.withClient("presence", onMessage: { message in
            if !message.payload.isEmpty { continuation.yield(String(message.topic.split(separator: "/").last ?? "")) }
        }) { client in
            try await client.subscribe(Topics().presenceFilter)
            var missing = Set(ids)
            for await id in stream {
                missing.remove(id)
                if missing.isEmpty { break }
            }
        }
    }

    private static func configuration(broker: BenchBroker, directory: URL, mode: CourierConfiguration.Workers.Dispatch) throws -> String {
        """
        broker:
          url: \(broker.url)
        bridge:
          id: bench-dispatch
        store:
          path: \(directory.path)/courier.sqlite
        http:
          address: 127.0.0.1:\(try FreePort.allocate())
        limits:
          maxPendingPerDevice: 1000
        operations:
          - name: work
            timeout: 30s
            attemptTimeout: 20s
        workers:
          dispatch: \(mode.rawValue)
        """
    }
}

/// Takes `cost` ms (a sleep), counting its answers under its worker's name.
struct TalliedWork: OperationHandler {
    let operation = "work"
    let name: String
    let cost: Int
    let counts: Shared<[String: Int]>

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        try await Task.sleep(for: .milliseconds(cost))
        counts.update { $0[name, default: 0] += 1 }
        return HandlerResponse(payload: request.payload)
    }
}
