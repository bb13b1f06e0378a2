import CourierCore
import CourierDevices
import CourierProcess
import CourierTesting
import Foundation

/// A load that `courier devices` generates, in a process of its own: `devices` MQTT 5 devices
/// send QoS 1 `echo` requests with 64-byte payloads, closed or open loop, and check every reply
/// (device, Correlation Data, payload, status). Every benchmark that sends device requests
/// through Courier runs one; its JSON Lines give the figures.
struct DeviceLoad: Sendable {
    var devices: Int
    var mode: DeviceProfile.Mode
    var length: DeviceProfile.Length
    /// A request without its reply after this is a timeout.
    var timeout: Duration
    /// Device ids are `{idPrefix}-1`, `{idPrefix}-2`...
    var idPrefix = "bench"

    static let payloadBytes = 64

    /// The profile `courier devices --profile` reads.
    var profile: String {
        let mode =
            switch self.mode {
            case .closed(let outstanding): "{ closed: { outstanding: \(outstanding) } }"
            case .rate(let perSecond): "{ rate: { requestsPerSecond: \(perSecond) } }"
            }
        let length =
            switch self.length {
            case .duration(let duration): "duration: \(DurationText.format(duration))"
            case .requestsPerDevice(let count): "requestsPerDevice: \(count)"
            }
        return """
            name: courier-bench
            protocol: mqtt5
            devices: { count: \(devices), idPrefix: \(idPrefix) }
            operations:
              - operation: echo
                payload: { echo: { bytes: \(Self.payloadBytes) } }
            mode: \(mode)
            \(length)
            timeout: \(DurationText.format(timeout))
            qos: 1

            """
    }

    /// Runs `courier devices` with this load against `broker` and returns its summary (also when
    /// the run found problems: the caller reads them). Its profile, output and log go to
    /// `directory`. With `progressEvery`, `progress` gets each snapshot while the run goes on.
    func run(
        broker: String,
        in directory: URL,
        signals: StopOnSignal,
        progressEvery: Duration? = nil,
        progress: (SimulatorProgress) -> Void = { _ in }
    ) async throws -> SimulatorReport {
        let name = "devices-\(UUID().uuidString.prefix(8))"
        let profileFile = directory.appendingPathComponent("\(name).yaml")
        let output = directory.appendingPathComponent("\(name).jsonl")
        let log = directory.appendingPathComponent("\(name).log")
        try profile.write(to: profileFile, atomically: true, encoding: .utf8)
        var arguments = ["devices", "--profile", profileFile.path, "--broker", broker, "--json"]
        if let progressEvery { arguments += ["--progress-every", DurationText.format(progressEvery)] }
        let child = try ChildProcess.spawn(CourierDaemon.binary, arguments, output: output.path, errorOutput: log.path)
        var jsonLines = FileTail(path: output.path)
        func lines() throws -> [SimulatorJSONLine] { try jsonLines.newLines().map { try SimulatorJSONLine(decoding: $0) } }
        var summary: SimulatorReport?
        let status = try await signals.whileRunning(stop: { await child.stop() }) {
            while progressEvery != nil, child.isRunning {
                for line in try lines() { if let snapshot = line.progress { progress(snapshot) } }
                try await Task.sleep(for: .milliseconds(250))
            }
            return await child.wait()
        }
        for line in try lines() {
            if let snapshot = line.progress { progress(snapshot) }
            summary = line.summary ?? summary
        }
        // 0: a clean run; 1: problems, which the summary describes.
        guard status == 0 || status == 1, let summary else {
            let stderr = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw FixtureError.commandFailed("courier \(arguments.joined(separator: " ")) exited \(status): \(stderr.suffix(2000))")
        }
        return summary
    }
}
