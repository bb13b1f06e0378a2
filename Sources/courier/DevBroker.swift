import CourierProcess
import Foundation

/// The private mosquitto `courier dev` runs: `Config/mosquitto.conf` with its listener moved to
/// the chosen loopback port, started from the working directory and stopped by PID.
struct DevBroker {
    let port: Int
    let process: ChildProcess
    let logFile: String

    /// Starts mosquitto on `wanted` and waits until it accepts connections. When `wanted` is 0
    /// or already taken, it picks a free port, and picks again (five times at most) when
    /// another process binds that one first.
    static func start(baseConfig: String, port wanted: Int, stateDirectory: String) async throws -> DevBroker {
        guard wanted == 0 || FreePort.accepts(port: wanted) else {
            return try await launch(baseConfig: baseConfig, port: wanted, stateDirectory: stateDirectory)
        }
        return try await FreePort.retrying { port in
            try await launch(baseConfig: baseConfig, port: port, stateDirectory: stateDirectory)
        }
    }

    private static func launch(baseConfig: String, port: Int, stateDirectory: String) async throws -> DevBroker {
        try FileManager.default.createDirectory(atPath: "\(stateDirectory)/mosquitto", withIntermediateDirectories: true)
        var lines = try String(contentsOfFile: baseConfig, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .map { line -> String in
                if line.hasPrefix("listener ") { return "listener \(port) 127.0.0.1" }
                if line.hasPrefix("persistence_location ") { return "persistence_location \(stateDirectory)/mosquitto/" }
                return String(line)
            }
        // Started as root, mosquitto would drop to the `mosquitto` user and lose its state directory.
        if getuid() == 0 { lines.append("user root") }
        let config = "\(stateDirectory)/mosquitto-dev.conf"
        try lines.joined(separator: "\n").write(toFile: config, atomically: true, encoding: .utf8)
        let logFile = "\(stateDirectory)/mosquitto.log"
        let process = try ChildProcess.spawn("mosquitto", ["-c", config], output: logFile, ownProcessGroup: true)
        let deadline = ContinuousClock.now + .seconds(10)
        while !FreePort.accepts(port: port) {
            guard process.isRunning, ContinuousClock.now < deadline else {
                process.signal(SIGKILL)
                let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
                throw ChildProcessError(message: "mosquitto did not start on port \(port):\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return DevBroker(port: port, process: process, logFile: logFile)
    }

    var url: String { "mqtt://127.0.0.1:\(port)" }

    func stop() async {
        await process.stop(grace: .seconds(5))
    }
}
