import CourierProcess
import Foundation
import Synchronization

/// A real `courier` process (bridge, worker, serve...) for end-to-end tests, started from the
/// binary built next to the test bundle, stopped by PID.
package final class CourierDaemon: Sendable {
    package let directory: URL
    package let arguments: [String]
    private let child: ChildProcess

    /// The built `courier` binary: beside the test runner, or `COURIER_BINARY`.
    package static var binary: String {
        if let path = ProcessInfo.processInfo.environment["COURIER_BINARY"] { return path }
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = runner.deletingLastPathComponent()
        // The runner may sit inside an .xctest bundle directory.
        while directory.pathExtension == "xctest" || directory.lastPathComponent == "MacOS" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("courier").path
    }

    /// Starts `courier arguments...` and waits until its log contains `readyLine`.
    /// - Parameters:
    ///   - environment: the process's whole environment; this process's when nil.
    ///   - ownProcessGroup: start it as a shell starts a foreground job, leading a process
    ///     group of its own, so that a test can send a signal to the group as a terminal's
    ///     Ctrl-C does.
    package static func start(
        _ arguments: [String],
        readyLine: String,
        directory: URL? = nil,
        environment: [String: String]? = nil,
        ownProcessGroup: Bool = false,
        within limit: Duration = .seconds(20)
    ) async throws -> CourierDaemon {
        let directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("courier-daemon-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("\(arguments.first ?? "courier")-\(UUID().uuidString.prefix(6)).log")
        let child = try ChildProcess.spawn(
            binary, arguments, environment: environment, output: log.path, ownProcessGroup: ownProcessGroup
        )
        Leftovers.track(child)
        let daemon = CourierDaemon(directory: directory, arguments: arguments, child: child, logFile: log)
        do {
            try await eventually("courier \(arguments.first ?? "") ready", within: limit) {
                guard child.isRunning else { throw FixtureError.commandFailed("courier exited: \(daemon.log)") }
                return daemon.log.contains(readyLine)
            }
        } catch {
            child.signal(SIGKILL)
            throw error
        }
        return daemon
    }

    private let logFile: URL

    private init(directory: URL, arguments: [String], child: ChildProcess, logFile: URL) {
        self.directory = directory
        self.arguments = arguments
        self.child = child
        self.logFile = logFile
    }

    package var pid: Int32 { child.pid }
    package var isRunning: Bool { child.isRunning }

    /// Everything the process wrote to stdout and stderr so far.
    package var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Waits until the log has at least `count` lines matching `predicate` (information lines
    /// are written in batches, milliseconds after the event); returns them.
    package func waitForLines(
        _ count: Int,
        within limit: Duration = .seconds(10),
        where predicate: @escaping (Substring) -> Bool
    ) async throws -> [Substring] {
        var lines: [Substring] = []
        try await eventually("\(count) matching log lines", within: limit) {
            lines = log.split(separator: "\n").filter(predicate)
            return lines.count >= count
        }
        return lines
    }

    /// The base URL of the process's HTTP API (`http://127.0.0.1:PORT`), from the line the
    /// HTTP server logs once it listens. Tests give their daemons port 0: a port picked in
    /// advance may be taken by another process before the daemon binds it.
    package func httpAPI(within limit: Duration = .seconds(20)) async throws -> String {
        var address: Substring?
        try await eventually("courier \(arguments.first ?? "") listening for HTTP", within: limit) {
            guard child.isRunning else { throw FixtureError.commandFailed("courier exited: \(log)") }
            address = log.firstMatch(of: /Server started and listening on (\S+:\d+)/)?.1
            return address != nil
        }
        return "http://\(address!)"
    }

    /// Sends a signal without waiting.
    package func signal(_ signal: Int32) { child.signal(signal) }

    /// Waits until the process has exited; returns its exit status.
    @discardableResult
    package func wait() async -> Int32 { await child.wait() }

    /// SIGTERM, then waits (SIGKILL after 15 s); returns the exit status.
    @discardableResult
    package func stop() async -> Int32 { await child.stop(grace: .seconds(15)) }

    /// SIGKILL, as a crash; waits for the exit.
    package func kill() async {
        child.signal(SIGKILL)
        await child.wait()
    }
}

/// Writes a Courier YAML configuration for tests into `directory` and returns its path.
package func writeCourierConfig(
    in directory: URL,
    broker: MosquittoBroker,
    bridgeID: String = "test",
    leaseTimeout: String = "10s",
    limits: String = "",
    operations: String = """
          - name: echo
            content: any
            timeout: 10s
            attemptTimeout: 3s
          - name: telemetry.summary
            content: json
            timeout: 5s
        """,
    commands: String = ""
) throws -> String {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let yaml = """
        broker:
          url: \(broker.url)
        bridge:
          id: \(bridgeID)
          leaseTimeout: \(leaseTimeout)
        store:
          path: \(directory.path)/courier.sqlite
        http:
          address: 127.0.0.1:0
        limits:
          maxCorrelationDataBytes: 64
        \(limits)
        operations:
        \(operations)
        \(commands.isEmpty ? "" : "commands:\n" + commands)
        workers:
          concurrency: 8
        """
    let path = directory.appendingPathComponent("courier.yaml").path
    try writeFile(yaml, to: path)
    return path
}

/// Every daemon a test started, killed when the test process exits: a test that fails before
/// stopping its daemons leaves none behind.
private enum Leftovers {
    private static let children = Mutex<[ChildProcess]>([])
    private static let registered: Void = {
        atexit {
            for child in Leftovers.children.withLock({ $0 }) { child.signal(SIGKILL) }
        }
    }()

    static func track(_ child: ChildProcess) {
        _ = registered
        children.withLock { children in
            children.removeAll { !$0.isRunning }
            children.append(child)
        }
    }
}
