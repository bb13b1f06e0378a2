import ArgumentParser
import CourierDevices
import CourierProcess
import CourierTesting
import Foundation

/// `courier-bench storm`: a hostile-input storm of `--messages` (100,000) against the release
/// `courier serve` (or `courier bridge` + `courier worker`) on a private mosquitto, with good
/// requests in among it: `courier devices storm`, run as a child process, with the figures of a
/// benchmark.
struct StormBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storm",
        abstract: "A hostile-input storm against courier serve: messages/s, good-request correctness and latency, peak RSS, recovery.",
        discussion: """
            Starts a private mosquitto and the release `courier` binary (COURIER_BINARY, or the \
            one beside courier-bench). Exits 1 when a good request did not get exactly its one \
            correct reply, anything reached a device that did not ask, the bridge died, or the \
            request after the storm went unanswered.
            """
    )

    @Option(help: "Hostile messages.")
    var messages = 100_000

    @Option(help: "Good requests, spread among the hostile messages.")
    var good = 2_000

    @Option(help: "Seed of the generated messages.")
    var seed: UInt64 = 1

    @Option(help: "Hostile messages per second; as fast as the window allows by default.")
    var rate: Double?

    @Option(help: "Hostile messages in flight at most.")
    var window = 256

    @Flag(name: .customLong("bridge-and-worker"), help: "Storm courier bridge + one courier worker instead of courier serve.")
    var bridgeAndWorker = false

    @Flag(name: .customLong("keep-files"), help: "Keep the Courier configuration, store and logs.")
    var keepFiles = false

    func validate() throws {
        guard messages >= 1, good >= 1, window >= 1 else { throw ValidationError("--messages, --good and --window must be positive") }
        guard rate.map({ $0 > 0 }) ?? true else { throw ValidationError("--rate must be positive") }
    }

    func run() async throws {
        let binary = try CourierDaemon.requireBinary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-bench-storm-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let system: SystemUnderTest = bridgeAndWorker ? .bridgeAndWorker : .serve
        let (report, logs, store) = try await StopOnSignal.listening { signals in
            try await withBroker { broker in
                try await signals.whileRunning(stop: { await broker.stop() }) {
                    BenchReport.printHeader(
                        broker: BenchBroker(url: broker.url, isPrivate: true),
                        details: [
                            ("courier", "\(binary) (\(system.name)), maxPendingPerDevice 32, maxPayloadBytes 256 KiB"),
                            ("storm", "\(messages) hostile messages, seed \(seed), \(rate.map { "\(Int($0))/s" } ?? "window \(window)"); \(good) good requests"),
                        ]
                    )
                    BenchReport.output()
                    let launcher = SystemLauncher(broker: broker, directory: directory, maxPendingPerDevice: 32, signals: signals)
                    let (report, logs) = try await launcher.serving(system) { started in
                        try await storm(
                            broker: broker,
                            bridgePID: started[0].pid,
                            bridgeID: system == .serve ? "bench-serve" : "bench-bridge",
                            directory: directory,
                            signals: signals
                        )
                    }
                    return (report, logs, Self.storeBytes(in: directory))
                }
            }
        }
        output(report, logs: logs, storeBytes: store, system: system)
        if keepFiles || !report.isClean {
            BenchReport.progress("configuration, store and logs kept in \(directory.path)")
        } else {
            try? FileManager.default.removeItem(at: directory)
        }
        if !report.isClean { throw ExitCode(1) }
    }

    /// Runs `courier devices storm` against the bridge, its progress relayed to this process's
    /// stderr.
    private func storm(broker: MosquittoBroker, bridgePID: Int32, bridgeID: String, directory: URL, signals: StopOnSignal) async throws -> StormReport {
        var arguments = [
            "devices", "storm", "--broker", broker.url, "--messages", "\(messages)", "--good", "\(good)", "--seed", "\(seed)",
            "--window", "\(window)", "--bridge-pid", "\(bridgePID)", "--bridge-id", bridgeID, "--json",
        ]
        if let rate { arguments += ["--rate", "\(rate)"] }
        let output = directory.appendingPathComponent("storm.json")
        let log = directory.appendingPathComponent("storm.log")
        BenchReport.progress("courier \(arguments.joined(separator: " "))")
        let child = try ChildProcess.spawn(CourierDaemon.binary, arguments, output: output.path, errorOutput: log.path)
        var progress = FileTail(path: log.path)
        let status = try await signals.whileRunning(stop: { await child.stop() }) {
            while child.isRunning {
                for line in try progress.newLines() { BenchReport.progress(line) }
                try await Task.sleep(for: .milliseconds(250))
            }
            return await child.wait()
        }
        for line in try progress.newLines() { BenchReport.progress(line) }
        // 0: a clean storm; 1: problems, which the report describes.
        guard status == 0 || status == 1, let data = try? Data(contentsOf: output) else {
            throw FixtureError.commandFailed("courier devices storm exited \(status)")
        }
        return try JSONDecoder().decode(StormReport.self, from: data)
    }

    /// The store's files (database, WAL, shared memory), in bytes.
    static func storeBytes(in directory: URL) -> Int {
        guard let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.fileSizeKey]) else { return 0 }
        var total = 0
        for case let file as URL in files where file.lastPathComponent.hasPrefix("courier.sqlite") {
            total += (try? file.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0
        }
        return total
    }

    private func output(_ report: StormReport, logs: [DaemonLog], storeBytes: Int, system: SystemUnderTest) {
        func mb(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_048_576) }
        var rows: [(String, String)] = []
        let hostile = report.hostile
        rows.append(("hostile messages sent", "\(hostile.sent) (\(hostile.viaClient) via MQTT clients, \(hostile.viaWire) on the wire), \(mb(hostile.bytes))"))
        rows.append(("hostile messages/s", String(format: "%.0f over %.1f s", report.hostilePerSecond, report.sendSeconds)))
        rows.append(("broker refused / disconnected", "\(hostile.refusedByBroker.values.reduce(0, +)) / \(hostile.disconnectedByBroker.values.reduce(0, +)) (\(hostile.clientReconnects) client reconnects, \(hostile.wireConnections) wire connections)"))
        let good = report.good
        rows.append(("good requests correct", "\(good.answeredCorrectly) of \(good.sent) (\(good.wrong) wrong, \(good.missing) missing, \(good.duplicates) duplicate, \(good.interim) interim)"))
        rows.append(("good latency in the storm", String(format: "p50 %.1f ms, p99 %.1f ms, max %.1f ms", good.latency.p50, good.latency.p99, good.latency.max)))
        rows.append(("strays", "\(report.strays) to the bystander, \(report.unsolicited) to good devices"))
        rows.append(("request after the storm", report.afterStormMilliseconds.map { String(format: "%.1f ms", $0) } ?? "NOT ANSWERED: \(report.afterStormProblem ?? "")"))
        if let memory = report.memory {
            rows.append(("\(system == .serve ? "serve" : "bridge") RSS", "\(mb(memory.atStart)) at start, \(mb(memory.afterWarmUp)) after warm-up, peak \(mb(memory.peak)), \(memory.atEnd.map(mb) ?? "-") at the end"))
        }
        rows.append(("bridge process", report.bridgeAlive == false ? "GONE" : "running"))
        rows.append(("store on disk", mb(storeBytes)))
        for (name, value) in rows { BenchReport.output(name.padding(toLength: 30, withPad: " ", startingAt: 0) + value) }
        BenchReport.output()
        BenchReport.output("hostile messages by category: " + hostile.byCategory.keys.sorted().map { "\($0) \(hostile.byCategory[$0] ?? 0)" }.joined(separator: ", "))
        BenchReport.output("broker refusals: \(hostile.refusedByBroker.keys.sorted().map { "\($0) \(hostile.refusedByBroker[$0] ?? 0)" }.joined(separator: ", ")); disconnects: \(hostile.disconnectedByBroker.keys.sorted().map { "\($0) \(hostile.disconnectedByBroker[$0] ?? 0)" }.joined(separator: ", "))")
        for log in logs { BenchReport.output("\(log.summary)" + (log.samples.isEmpty ? "" : ": " + log.samples.joined(separator: " | "))) }
        for sample in report.samples { BenchReport.output("  \(sample)") }
        BenchReport.output("seed \(report.seed), token \(report.token); result: \(report.isClean ? "OK" : "PROBLEMS")")
    }
}
