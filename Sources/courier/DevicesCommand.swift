import ArgumentParser
import CourierConfig
import CourierCore
import CourierDevices
import Dispatch
import Foundation

/// `courier devices`: the device simulator (`simulate`, what `courier devices` runs by default)
/// and the hostile-input storm (`storm`).
struct DevicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "Simulate devices that send requests through Courier, or storm it with hostile input.",
        subcommands: [DevicesSimulateCommand.self, DevicesStormCommand.self],
        defaultSubcommand: DevicesSimulateCommand.self
    )
}

/// `courier devices [simulate]`: the device simulator and load generator, driven by a profile.
struct DevicesSimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate devices that send requests through Courier, and report what came back (the default).",
        discussion: """
            Connects --count devices (one MQTT connection each, all on a few event loops), sends \
            requests in the profile's mix and pace, checks that every reply reaches the device that \
            asked with its own correlation, answers the commands sent to the devices as the \
            profile's commands: list says, and prints progress every few seconds and a summary \
            (commands received, run, repeated and answered by status among it). \
            Exits with status 1 when anything went wrong (a timeout, a mismatched or unexpected \
            reply, a failed publish). Ctrl-C stops early and still prints the summary.
            """
    )

    @Option(name: .long, help: "Profile file (YAML), e.g. Devices/profiles/thermostat.yaml.")
    var profile: String

    @Option(name: .long, help: "Number of devices (overrides the profile).")
    var count: Int?

    @Option(name: .long, help: "Broker URL, mqtt://HOST:PORT or mqtts://HOST:PORT.")
    var broker: String = "mqtt://127.0.0.1:1883"

    @Option(name: .long, help: "A Courier configuration file whose topics: layout the devices use (default: the SPEC's devices/... layout).")
    var config: String?

    @Option(name: .long, help: "How long to send, e.g. 30s or 2m (overrides the profile).")
    var duration: String?

    @Option(name: .customLong("requests-per-device"), help: "Requests each device sends (overrides the profile).")
    var requestsPerDevice: Int?

    @Option(name: .long, help: "Broker username, the same for every device.")
    var username: String?

    @Option(name: .long, help: "Broker password.")
    var password: String?

    @Option(
        name: .customLong("password-dir"),
        help: "Directory of {deviceId}.pass files (Scripts/make-dev-secrets.sh): each device logs in as itself."
    )
    var passwordDirectory: String?

    @Option(name: .customLong("devices-per-loop"), help: "Devices driven by one event loop thread; more devices get more loops, up to one per core.")
    var devicesPerLoop: Int = 2500

    @Option(name: .customLong("ca-file"), help: "CA certificate for an mqtts:// broker.")
    var caFile: String?

    @Option(name: .customLong("progress-every"), help: "Progress interval, e.g. 5s.")
    var progressEvery: String = "5s"

    @Flag(name: .long, help: "Print JSON Lines on stdout: {\"progress\": ...} at each progress interval, {\"summary\": ...} last.")
    var json = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "warning"

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if let duration, DurationText.parse(duration).map({ $0 > .zero }) != true {
            throw ValidationError("--duration must be a duration such as 30s or 2m")
        }
        if devicesPerLoop < 1 { throw ValidationError("--devices-per-loop must be at least 1") }
        if passwordDirectory != nil, username != nil || password != nil {
            throw ValidationError("give --password-dir or --username/--password, not both")
        }
        if let requestsPerDevice, requestsPerDevice < 1 { throw ValidationError("--requests-per-device must be at least 1") }
        if duration != nil, requestsPerDevice != nil { throw ValidationError("give --duration or --requests-per-device, not both") }
        if DurationText.parse(progressEvery).map({ $0 > .zero }) != true {
            throw ValidationError("--progress-every must be a duration such as 5s")
        }
        if !(broker.hasPrefix("mqtt://") || broker.hasPrefix("mqtts://")) {
            throw ValidationError("--broker must be mqtt://HOST:PORT or mqtts://HOST:PORT")
        }
    }

    func run() async throws {
        let logger = Logs.bootstrap(level: logLevel)
        var profile: DeviceProfile
        do {
            profile = try DeviceProfile.load(path: self.profile)
        } catch let error as ConfigError {
            throw ValidationError("\(error)")
        }
        if let duration, let parsed = DurationText.parse(duration) { profile.length = .duration(parsed) }
        if let requestsPerDevice { profile.length = .requestsPerDevice(requestsPerDevice) }

        var simulator = try Simulator(profile: profile, broker: broker, count: count, logger: logger)
        simulator.username = username
        simulator.password = password
        simulator.passwordDirectory = passwordDirectory
        simulator.devicesPerLoop = devicesPerLoop
        simulator.caFile = caFile
        simulator.progressInterval = DurationText.parse(progressEvery) ?? .seconds(5)
        if let config {
            do {
                simulator.topics = try ConfigLoader.load(path: config, environment: [:]).topics
            } catch let error as ConfigError {
                throw ValidationError("\(error)")
            }
        }

        let json = self.json
        let run = Task {
            try await simulator.run { progress in
                if json {
                    try? Self.writeLine(SimulatorJSONLine(progress: progress))
                } else {
                    print(progress.line)
                }
            }
        }
        // Ctrl-C ends the run early; the summary of what was done is still printed.
        signal(SIGINT, SIG_IGN)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        interrupt.setEventHandler { run.cancel() }
        interrupt.resume()
        defer { interrupt.cancel() }

        let report: SimulatorReport
        do {
            report = try await run.value
        } catch is CancellationError {
            FileHandle.standardError.write(Data("interrupted while connecting the devices\n".utf8))
            throw ExitCode(130)
        }
        if json {
            try Self.writeLine(SimulatorJSONLine(summary: report))
        } else {
            print(report.summary)
        }
        if !report.isClean { throw ExitCode(1) }
    }

    /// Writes one JSON line to stdout at once, so that a program reading it sees each line as
    /// it comes.
    private static func writeLine(_ line: SimulatorJSONLine) throws {
        FileHandle.standardOutput.write(Data((try line.encoded() + "\n").utf8))
    }
}
