import CourierTesting
import Foundation
import Testing

/// `courier dev` as a newcomer runs it: a private mosquitto, `serve` on it, simulated devices
/// and the status line; SIGTERM, or Ctrl-C, stops all of it.
@Suite(.timeLimit(.minutes(2)))
struct DevCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Starts `courier dev --devices 5` with the shipped configuration files, on free ports,
    /// with its state in a directory of its own, leading its own process group as a shell's
    /// foreground job does.
    static func startDev() async throws -> CourierDaemon {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-dev-\(UUID().uuidString)")
        return try await CourierDaemon.start(
            [
                "dev", "--devices", "5",
                "--port", "0",
                "--http", "127.0.0.1:0",
                "--state-dir", directory.appendingPathComponent("state").path,
                "--config", root.appendingPathComponent("Config/courier.yaml").path,
                "--mosquitto-config", root.appendingPathComponent("Config/mosquitto.conf").path,
                "--profile", root.appendingPathComponent("Devices/profiles/thermostat.yaml").path,
            ],
            readyLine: "Ctrl-C to stop",
            directory: directory,
            ownProcessGroup: true
        )
    }

    /// A status line that shows requests flowing: `12:00:01  41 req/s  p50 3ms  p99 9ms  pending 2  errors 0`.
    static func flowingStatus(in log: String) -> Substring? {
        let line = /(\d+) req\/s  p50 +(\d+)ms  p99 +(\d+)ms  pending +\d+  errors \d+/
        return log.split(separator: "\n").first { text in
            guard let match = text.firstMatch(of: line) else { return false }
            return Int(match.1).map { $0 > 0 } == true
        }
    }

    /// The private broker's pid, from the banner.
    static func brokerPID(in log: String) -> pid_t? {
        log.firstMatch(of: /courier dev: broker \S+ \(pid (\d+),/).flatMap { pid_t($0.1) }
    }

    /// Waits for requests to flow, stops `courier dev` with `stop`, and checks that it exits 0
    /// in time, leaving no process behind and a clean simulator summary.
    func runsAndStopsCleanly(_ stop: (CourierDaemon) -> Void) async throws {
        let dev = try await Self.startDev()
        let brokerPID = Self.brokerPID(in: dev.log)
        do {
            let broker = try #require(brokerPID, "\(dev.log)")
            try await eventually("requests on the status line", within: .seconds(30)) { Self.flowingStatus(in: dev.log) != nil }
            // `serve` and the devices run inside the process: the broker is its only child.
            let children = ProcessTable.children(of: dev.pid)
            #expect(children == [broker])

            let stopping = ContinuousClock.now
            stop(dev)
            let status = try await withTimeout(.seconds(20), "courier dev exits") { await dev.wait() }
            print("courier dev stopped in \(stopping.duration(to: .now))")
            #expect(status == 0, "\(dev.log)")
            #expect(!ProcessTable.exists(broker), "the private broker outlived courier dev")
            for child in children { #expect(!ProcessTable.exists(child)) }
            #expect(ProcessTable.members(ofGroup: dev.pid).isEmpty)
            #expect(ProcessTable.members(ofGroup: broker).isEmpty)

            let log = dev.log
            #expect(log.contains("courier dev: stopped"), "\(log)")
            // The simulator's summary: late replies to the requests it stopped waiting for are
            // no mismatches.
            #expect(log.contains("mismatches 0, unmatched 0,"), "\(log)")
        } catch {
            dev.signal(SIGKILL)
            // In a process group of its own, the broker outlives a killed courier dev.
            if let brokerPID { kill(brokerPID, SIGKILL) }
            print("courier dev log:\n\(dev.log)")
            throw error
        }
    }

    @Test
    func sigtermStopsEverythingItStarted() async throws {
        try await runsAndStopsCleanly { $0.signal(SIGTERM) }
    }

    @Test
    func ctrlCStopsEverythingItStarted() async throws {
        // A terminal sends SIGINT to the whole foreground process group.
        try await runsAndStopsCleanly { kill(-$0.pid, SIGINT) }
    }

    /// The log level `courier dev` runs at: flag over `COURIER_LOG_LEVEL` over the file over
    /// dev's own `warning`. Each case expects info logs, which only the winner asks for.
    @Test(arguments: [
        (file: "info", variable: nil, flag: nil),
        (file: "error", variable: "info", flag: nil),
        (file: "error", variable: "error", flag: "info"),
    ] as [(file: String, variable: String?, flag: String?)])
    func theLogLevelComesFromTheFlagTheEnvironmentOrTheFile(file: String, variable: String?, flag: String?) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-dev-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("courier.yaml").path
        try "log:\n  level: \(file)\n".write(toFile: config, atomically: true, encoding: .utf8)
        var environment = ProcessInfo.processInfo.environment
        environment["COURIER_LOG_LEVEL"] = variable
        let dev = try await CourierDaemon.start(
            [
                "dev", "--config", config,
                "--port", "0",
                "--http", "127.0.0.1:0",
                "--state-dir", directory.appendingPathComponent("state").path,
                "--mosquitto-config", Self.root.appendingPathComponent("Config/mosquitto.conf").path,
            ] + (flag.map { ["--log-level", $0] } ?? []),
            // Logged at info.
            readyLine: "bridge started",
            directory: directory,
            environment: environment
        )
        #expect(await dev.stop() == 0, "\(dev.log)")
        try? FileManager.default.removeItem(at: directory)
    }

    @Test
    func aMissingBrokerConfigurationIsNamedInsteadOfStartingAnything() async throws {
        let result = try await Command.run(CourierDaemon.binary, ["dev", "--mosquitto-config", "/nonexistent/mosquitto.conf"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("no broker configuration at /nonexistent/mosquitto.conf"))
        #expect(result.stderr.contains("--mosquitto-config"))
    }
}
