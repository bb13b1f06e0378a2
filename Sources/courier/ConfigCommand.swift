import ArgumentParser
import CourierConfig

/// `courier config check FILE`: parses a configuration and reports the first problem with its
/// line and key.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with configuration files.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a configuration file (and the COURIER_* environment).")

        @Argument(help: "The YAML file.")
        var file: String = "Config/courier.yaml"

        func run() async throws {
            do {
                let configuration = try ConfigLoader.load(path: file)
                print("\(file): ok (\(configuration.operations.count) operations, broker \(configuration.broker.url))")
            } catch let error as ConfigError {
                print(error.description)
                throw ExitCode(2)
            }
        }
    }
}
