import ArgumentParser
import CourierDevices
import CourierTesting
import Foundation

/// `courier-bench bridge`: device request/reply through Courier against the C echo responder,
/// in one run on one private mosquitto.
///
/// For each system (the C echo responder, `courier serve`, `courier bridge` + one `courier
/// worker`): a closed-loop run (every device keeps `--outstanding` requests in flight), then an
/// open-loop run at half the baseline's closed-loop capacity, each after a warm-up. The load is
/// `courier devices`, in a process of its own, which checks every reply against its request:
/// device, Correlation Data, payload, status.
struct BridgeBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Request/reply through courier serve and courier bridge + worker, against a C echo responder.",
        discussion: """
            Starts a private mosquitto, builds Benchmarks/echo_responder.c with cc, and runs the \
            release `courier` binary (COURIER_BINARY, or the one beside courier-bench) as the \
            systems and as the load (`courier devices`). Exits 0 whatever the figures, 1 if a \
            reply did not match its request (duplicate replies are reported loudly but do not \
            change the exit status).
            """
    )

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
        let closed: MeasuredRun
        let open: MeasuredRun
        let openRate: Double
        /// Every run against the system, warm-ups included, for the correctness verdict.
        let checked: [SimulatorReport]
        let logs: [DaemonLog]
    }

    func run() async throws {
        let binary = try CourierDaemon.requireBinary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-bench-bridge-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let results: [SystemResult]
        do {
            results = try await StopOnSignal.listening { signals in
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

        let verdict = Verdict(results.flatMap(\.checked))
        report(results, verdict: verdict)
        if keepFiles {
            BenchReport.progress("configurations, stores and logs kept in \(directory.path)")
        } else {
            try? FileManager.default.removeItem(at: directory)
        }
        if verdict.mismatches > 0 { throw ExitCode(1) }
    }

    /// Every system in turn, on one broker.
    private func measureAll(broker: MosquittoBroker, binary: String, directory: URL, signals: StopOnSignal) async throws -> [SystemResult] {
        printHeader(broker: broker, binary: binary)
        let launcher = SystemLauncher(broker: broker, directory: directory, maxPendingPerDevice: maxPendingPerDevice, signals: signals)
        let mosquitto = ProcessCPU.children(named: "mosquitto").map { (name: "mosquitto", pid: $0) }
        var results: [SystemResult] = []
        for system in SystemUnderTest.allCases {
            let baselineRate = results.first?.closed.rate
            let runner = LoadRunner(broker: broker, directory: directory, signals: signals, devices: devices, timeout: timeout.duration)
            results.append(try await measure(system, launcher: launcher, runner: runner, processes: mosquitto, baselineRate: baselineRate))
        }
        return results
    }

    private func printHeader(broker: MosquittoBroker, binary: String) {
        BenchReport.printHeader(
            broker: BenchBroker(url: broker.url, isPrivate: true),
            details: [
                ("courier", "\(binary), maxPendingPerDevice \(maxPendingPerDevice), echo timeout 10s, workers.concurrency 8"),
                ("baseline", "Benchmarks/echo_responder.c (libmosquitto, one client, QoS 1)"),
                ("load", "courier devices: \(devices) devices × \(outstanding) outstanding, MQTT 5, QoS 1, operation echo, \(DeviceLoad.payloadBytes)-byte payloads"),
                ("timing", "\(duration) per run after a \(warmUp) warm-up; no reply after \(timeout) is an error"),
            ]
        )
        BenchReport.output()
    }

    /// Starts `system`, waits until it answers, then runs the closed loop and the open loop at
    /// half the baseline's rate (half its own rate when it is the baseline).
    private func measure(
        _ system: SystemUnderTest,
        launcher: SystemLauncher,
        runner: LoadRunner,
        processes: [(name: String, pid: Int32)],
        baselineRate: Double?
    ) async throws -> SystemResult {
        let ((closed, open, openRate, checked), logs) = try await launcher.serving(system) { started in
            try await runner.waitUntilAnswering(system)
            let watched = processes + started
            let closedLoop = DeviceProfile.Mode.closed(outstanding: outstanding)

            BenchReport.progress("\(system.name): closed loop, warm-up \(warmUp)")
            let closedWarmUp = try await runner.run(closedLoop, for: warmUp.duration, watching: watched)
            BenchReport.progress("\(system.name): closed loop, \(devices) × \(outstanding) outstanding for \(duration)")
            let closed = try await runner.run(closedLoop, for: duration.duration, watching: watched)
            progress(system, "closed", closed)

            let openRate = self.openRate ?? (baselineRate ?? closed.rate) / 2
            let openLoop = DeviceProfile.Mode.rate(requestsPerSecond: openRate)
            BenchReport.progress("\(system.name): open loop at \(openRate.text(0)) requests/s, warm-up \(warmUp)")
            let openWarmUp = try await runner.run(openLoop, for: warmUp.duration, watching: watched)
            BenchReport.progress("\(system.name): open loop at \(openRate.text(0)) requests/s for \(duration)")
            let open = try await runner.run(openLoop, for: duration.duration, watching: watched)
            progress(system, "open", open)
            return (closed, open, openRate, [closedWarmUp, closed, openWarmUp, open].map(\.report))
        }
        for log in logs { BenchReport.progress(log.summary) }
        return SystemResult(system: system, closed: closed, open: open, openRate: openRate, checked: checked, logs: logs)
    }

    /// The figures of a run as soon as it ends, on stderr; mismatches at once and loudly.
    private func progress(_ system: SystemUnderTest, _ kind: String, _ run: MeasuredRun) {
        let latency = run.report.latency
        BenchReport.progress(
            "\(system.name) \(kind) loop: \(kind == "open" ? "sent \(run.sendRate.text(0))" : "\(run.rate.text(0)) good replies")/s, "
                + (latency.count == 0 ? "no good reply to time" : "p50 \(latency.p50.text(2)) ms, p99 \(latency.p99.text(2)) ms")
                + ", \(run.errors) errors"
                + (run.errorSummary.isEmpty ? "" : " (\(run.errorSummary))")
        )
        if run.mismatches > 0 {
            FileHandle.standardError.write(Data("!!! MISMATCH in \(system.name) \(kind) loop: \(run.mismatches) replies did not match their requests\n".utf8))
        }
        if run.report.duplicates > 0 {
            FileHandle.standardError.write(Data("!!! DUPLICATE REPLIES in \(system.name) \(kind) loop: \(run.report.duplicates)\n".utf8))
        }
    }
}
