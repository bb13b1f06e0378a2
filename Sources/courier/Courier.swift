import ArgumentParser

/// `courier`: the MQTT request/reply bridge, its workers, and the tools around them.
@main
struct Courier: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "courier",
        abstract: "MQTT request/reply bridge for IoT devices.",
        subcommands: [
            BridgeCommand.self,
            WorkerCommand.self,
            ServeCommand.self,
            DevCommand.self,
            DevicesCommand.self,
            RequestsCommand.self,
            DeadLettersCommand.self,
            ConfigCommand.self,
        ]
    )
}
