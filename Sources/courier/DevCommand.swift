import ArgumentParser
import CourierBridge
import CourierCore
import CourierDevices
import CourierWorkers
import Foundation
import ServiceLifecycle

/// `courier dev`: a private mosquitto on loopback, `serve` on it, and optionally simulated
/// devices; Ctrl-C stops all of it. With `--bridges N` (N > 1, on a PostgreSQL store) it runs
/// N `courier bridge` and `--workers` `courier worker` processes in place of `serve`
/// (``DevCluster``).
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Start a private broker, the bridge with its workers, and simulated devices: zero set-up."
    )

    @OptionGroup var options: DaemonOptions

    @Option(help: "Loopback port of the private broker; 0, or a port already taken, picks a free one.")
    var port: Int = 1883

    @Option(name: .customLong("mosquitto-config"), help: "Broker configuration to start from.")
    var mosquittoConfig: String = "Config/mosquitto.conf"

    @Option(name: .customLong("state-dir"), help: "Where the broker's and the bridge's state go.")
    var stateDirectory: String = ".courier"

    @Option(help: "Simulated devices to run against it (0 for none).")
    var devices: Int = 0

    @Option(help: "Device profile for --devices.")
    var profile: String = "Devices/profiles/thermostat.yaml"

    @Option(help: "Bridges to run: 1 runs serve in this process; more run courier bridge processes dev-1... on a shared PostgreSQL store (--store postgres://...).")
    var bridges: Int = 1

    @Option(help: "courier worker processes beside the bridges, with --bridges 2 or more (default 2).")
    var workers: Int?

    func validate() throws {
        // The defaults are paths in the repository: say so instead of a bare "no such file".
        guard FileManager.default.fileExists(atPath: mosquittoConfig) else {
            throw ValidationError("no broker configuration at \(mosquittoConfig): run from the repository root or pass --mosquitto-config")
        }
        guard devices == 0 || FileManager.default.fileExists(atPath: profile) else {
            throw ValidationError("no device profile at \(profile): run from the repository root or pass --profile")
        }
        guard (1...64).contains(bridges) else { throw ValidationError("--bridges must be between 1 and 64") }
        if let workers {
            guard bridges > 1 else { throw ValidationError("--workers needs --bridges 2 or more: with one bridge, serve runs the workers in process") }
            guard (1...64).contains(workers) else { throw ValidationError("--workers must be between 1 and 64") }
        }
    }

    func run() async throws {
        var options = options
        if options.config == nil, FileManager.default.fileExists(atPath: "Config/courier.yaml") {
            options.config = "Config/courier.yaml"
        }
        // The status line is dev's output: logs only for problems, unless asked for.
        var defaults = CourierConfiguration()
        defaults.logLevel = "warning"
        var configuration = try options.configuration(defaults: defaults)
        let logger = Logs.bootstrap(level: configuration.logLevel)
        let state = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
        if bridges > 1 {
            guard let store = configuration.store.postgres else {
                throw ValidationError(
                    "--bridges \(bridges) needs a store every bridge can reach: --store postgres://USER:PASSWORD@HOST:PORT/DB (or store.url, or COURIER_STORE_URL)")
            }
            return try await runCluster(options: options, configuration: configuration, store: store, stateDirectory: state)
        }
        let broker = try await DevBroker.start(baseConfig: mosquittoConfig, port: port, stateDirectory: state)
        configuration.broker.url = broker.url
        if options.store == nil { configuration.store.path = "\(state)/dev.sqlite" }
        do {
            let runtime = try BridgeRuntime(configuration: configuration, workers: .inMemory(WorkerPool.builtin(configuration, logger: logger)), logger: logger)
            let banner = """
                courier dev: broker \(broker.url) (pid \(broker.process.pid), log \(broker.logFile)), store \(configuration.store.location), \
                HTTP \(configuration.httpAddress); Ctrl-C to stop
                """
            var services: [any Service] = [StatusLine(bridge: runtime.bridge, interval: .seconds(2), banner: banner)]
            services += try devicesServices(configuration: configuration)
            try await runtime.run(extraServices: services)
        } catch {
            await broker.stop()
            throw error
        }
        await broker.stop()
        print("courier dev: stopped")
    }
}

extension DevCommand {
    /// The simulated devices, when asked for, printing their progress every `progressEvery`.
    func devicesServices(configuration: CourierConfiguration, progressEvery: Duration = .seconds(10)) throws -> [any Service] {
        guard devices > 0 else { return [] }
        var profile = try DeviceProfile.load(path: profile)
        // In dev the devices keep asking until Ctrl-C.
        profile.length = .duration(.seconds(86_400))
        var simulator = try Simulator(profile: profile, broker: configuration.broker.url, count: devices, logger: Logs.logger)
        simulator.topics = configuration.topics
        simulator.progressInterval = progressEvery
        return [SimulatedDevices(simulator: simulator)]
    }
}

/// Runs the device simulator inside `courier dev` and prints its summary at shutdown.
struct SimulatedDevices: Service {
    let simulator: Simulator

    func run() async throws {
        let simulator = simulator
        let report = try await cancelWhenGracefulShutdown {
            try await simulator.run { progress in
                FileHandle.standardOutput.write(Data(("devices: " + progress.line + "\n").utf8))
            }
        }
        FileHandle.standardOutput.write(Data((report.summary + "\n").utf8))
    }
}
