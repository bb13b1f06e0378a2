import ArgumentParser
import CourierBridge

/// `courier bridge`: the daemon that owns correlations; workers run as `courier worker`.
struct BridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Run the bridge: intake, store, dispatch to worker daemons over MQTT, reply routing."
    )

    @OptionGroup var options: DaemonOptions

    func run() async throws {
        let configuration = try options.configuration()
        let logger = Logs.bootstrap(level: configuration.logLevel)
        try await BridgeRuntime(configuration: configuration, workers: .mqtt, logger: logger).run(extraServices: [])
    }
}
