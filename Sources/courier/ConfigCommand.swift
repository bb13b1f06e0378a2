import ArgumentParser
import CourierConfig
import CourierCore
import Foundation

/// `courier config check FILE`: parses a configuration, checks that the files it names can be
/// read, and reports the first problem with its line and key on stderr (exit status 2).
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
                try ConfigLoader.checkFiles(configuration, path: file)
                print("\(file): ok (\(configuration.operations.count) operations, broker \(configuration.broker.url))")
            } catch let error as ConfigError {
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
                throw ExitCode(2)
            }
        }
    }
}
