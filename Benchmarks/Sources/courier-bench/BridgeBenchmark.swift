import ArgumentParser
import CourierTesting
import Foundation

/// `courier-bench bridge`: device request/reply through Courier against a plain responder, in
/// one run on one private mosquitto.
///
/// For each system (a plain responder, `courier serve`, `courier bridge` + one `courier
/// worker`): a closed-loop run (every device keeps `--outstanding` requests in flight), then an
/// open-loop run at half the baseline's closed-loop capacity, each after a warm-up. Every reply
/// is checked against its request: device, Correlation Data, payload, status.
struct BridgeBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Request/reply through courier serve and courier bridge + worker, against a plain responder.",
        discussion: """
            Starts a private mosquitto and the release `courier` binary (COURIER_BINARY, or the \
            one beside courier-bench). Exits 0 whatever the figures, 1 if a reply did not match \
            its request (duplicate replies are reported loudly but do not change the exit status).
            """
    )

    static let operation = "echo"

    @Option(help: "Simulated devices, one MQTT client each.")
    var devices = 50

    @Option(help: "Requests each device keeps outstanding in the closed-loop runs.")
    var outstanding = 4

    @Option(help: ArgumentHelp("How long each timed run lasts: 500ms, 10s, 1m.", valueName: "duration"))
    var duration = BenchDuration(argument: "10s")!

    @Option(name: .customLong("warm-up"), help: ArgumentHelp("Untimed run before each timed one.", valueName: "duration"))
    var warmUp = BenchDuration(argument: "2s")!

    @Option(help: ArgumentHelp("A request without a reply after this counts as an error.", valueName: "duration"))
    var timeout = BenchDuration(argument: "15s")!

    @Option(name: .customLong("max-pending-per-device"), help: "Courier's limits.maxPendingPerDevice; at least --outstanding.")
    var maxPendingPerDevice = 256

    @Option(name: .customLong("open-rate"), help: "Requests/s of the open-loop runs, instead of half the baseline's closed-loop rate.")
    var openRate: Double?

    @Flag(name: .customLong("keep-files"), help: "Keep the Courier configurations, stores and logs (kept anyway after a failure).")
    var keepFiles = false

    func validate() throws {
        guard devices > 0, devices <= 1000 else { throw ValidationError("--devices must be between 1 and 1000") }
        guard outstanding > 0 else { throw ValidationError("--outstanding must be positive") }
        guard openRate.map({ $0 > 0 }) ?? true else { throw ValidationError("--open-rate must be positive") }
        guard duration.duration > .zero else { throw ValidationError("--duration must be positive") }
        guard timeout.duration > .zero else { throw ValidationError("--timeout must be positive") }
        guard maxPendingPerDevice >= outstanding else {
            throw ValidationError("--max-pending-per-device must be at least --outstanding")
        }
    }

    /// What one system produced.
    struct SystemResult: Sendable {
        let system: SystemUnderTest
        let closed: LoadResult
        let open: LoadResult
        let openRate: Double
        let logs: [DaemonLog]
    }

    func run() async throws {
        let binary = CourierDaemon.binary
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError("no courier binary at \(binary): build it with `swift build -c release --product courier` or set COURIER_BINARY")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-bench-bridge-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let results: [SystemResult], counters: ReplyLedger.Counters
        do {
            (results, counters) = try await StopOnSignal.listening { signals in
                try await withBroker { broker in
                    try await signals.whileRunning(stop: { await broker.stop() }) {
                        try await measureAll(broker: broker, binary: binary, directory: directory, signals: signals)
                    }
                }
            }
        } catch {
            BenchReport.progress("failed: \(error); configurations, stores and logs kept in \(directory.path)")
            throw error
        }

        report(results, counters: counters)
        if keepFiles {
            BenchReport.progress("configurations, stores and logs kept in \(directory.path)")
        } else {
            try? FileManager.default.removeItem(at: directory)
        }
        if counters.mismatches.total > 0 { throw ExitCode(1) }
    }

    /// Every system in turn, against one fleet of devices on one broker.
    private func measureAll(broker: MosquittoBroker, binary: String, directory: URL, signals: StopOnSignal) async throws -> ([SystemResult], ReplyLedger.Counters) {
        printHeader(broker: broker, binary: binary)
        let launcher = SystemLauncher(broker: broker, directory: directory, maxPendingPerDevice: maxPendingPerDevice, signals: signals)
        let bench: (name: String, pid: Int32) = ("courier-bench", getpid())
        let processes = [bench] + ProcessCPU.children(named: "mosquitto").map { (name: "mosquitto", pid: $0) }
        return try await DeviceFleet.with(brokerURL: broker.url, devices: devices, operation: Self.operation, timeout: timeout.duration) { fleet in
            var results: [SystemResult] = []
            for system in SystemUnderTest.allCases {
                let baselineRate = results.first?.closed.rate
                results.append(try await measure(system, fleet: fleet, launcher: launcher, processes: processes, baselineRate: baselineRate))
            }
            return (results, fleet.ledger.counters)
        }
    }

    private func printHeader(broker: MosquittoBroker, binary: String) {
        BenchReport.printHeader(
            broker: BenchBroker(url: broker.url, isPrivate: true),
            details: [
                ("courier", "\(binary), maxPendingPerDevice \(maxPendingPerDevice), echo timeout 10s, workers.concurrency 8"),
                ("load", "\(devices) devices × \(outstanding) outstanding, MQTT 5, QoS 1, operation \(Self.operation), \(ReplyLedger.payloadSize)-byte payloads"),
                ("timing", "\(duration) per run after a \(warmUp) warm-up; no reply after \(timeout) is an error"),
            ]
        )
        BenchReport.output()
    }

    /// Starts `system`, waits until it answers, then runs the closed loop and the open loop at
    /// half the baseline's rate (half its own rate when it is the baseline).
    private func measure(
        _ system: SystemUnderTest,
        fleet: DeviceFleet,
        launcher: SystemLauncher,
        processes: [(name: String, pid: Int32)],
        baselineRate: Double?
    ) async throws -> SystemResult {
        let ((closed, open, openRate), logs) = try await launcher.serving(system) { started in
            fleet.ledger.requireStatus(system != .baseline)
            try await waitUntilAnswering(fleet, system: system)
            let generator = LoadGenerator(fleet: fleet, processes: processes + started)

            BenchReport.progress("\(system.name): closed loop, warm-up \(warmUp)")
            _ = try await generator.closedLoop(outstanding: outstanding, duration: warmUp.duration)
            BenchReport.progress("\(system.name): closed loop, \(devices) × \(outstanding) outstanding for \(duration)")
            let closed = try await generator.closedLoop(outstanding: outstanding, duration: duration.duration)
            progress(system, "closed", closed)

            let openRate = self.openRate ?? (baselineRate ?? closed.rate) / 2
            BenchReport.progress("\(system.name): open loop at \(openRate.text(0)) requests/s, warm-up \(warmUp)")
            _ = try await generator.openLoop(rate: openRate, duration: warmUp.duration)
            BenchReport.progress("\(system.name): open loop at \(openRate.text(0)) requests/s for \(duration)")
            let open = try await generator.openLoop(rate: openRate, duration: duration.duration)
            progress(system, "open", open)
            return (closed, open, openRate)
        }
        for log in logs { BenchReport.progress(log.summary) }
        return SystemResult(system: system, closed: closed, open: open, openRate: openRate, logs: logs)
    }

    /// Sends single requests until one gets a good reply: a bridge answers 503 until it has
    /// seen the worker's presence.
    private func waitUntilAnswering(_ fleet: DeviceFleet, system: SystemUnderTest) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let outcome = try await fleet.request(device: 0)
            if case .ok = outcome { return }
            guard ContinuousClock.now < deadline else {
                throw FixtureError.timeout("\(system.name) answering a request (last outcome: \(outcome))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The figures of a run as soon as it ends, on stderr; mismatches at once and loudly.
    private func progress(_ system: SystemUnderTest, _ kind: String, _ result: LoadResult) {
        BenchReport.progress(
            "\(system.name) \(kind) loop: \(kind == "open" ? "sent \(result.sendRate.text(0))" : "\(result.rate.text(0)) good replies")/s, "
                + (result.latency.count == 0
                    ? "no good reply to time"
                    : "p50 \(result.latency.p50.milliseconds.text(2)) ms, p99 \(result.latency.p99.milliseconds.text(2)) ms")
                + ", \(result.tally.errors) errors"
                + (result.tally.errorSummary.isEmpty ? "" : " (\(result.tally.errorSummary))")
        )
        if result.mismatches.total > 0 {
            FileHandle.standardError.write(Data("!!! MISMATCH in \(system.name) \(kind) loop: \(result.mismatches.summary)\n".utf8))
        }
        if result.duplicates.total > 0 {
            FileHandle.standardError.write(
                Data("!!! DUPLICATE REPLIES in \(system.name) \(kind) loop: \(result.duplicates.identical) identical, \(result.duplicates.different) different\n".utf8)
            )
        }
    }
}
