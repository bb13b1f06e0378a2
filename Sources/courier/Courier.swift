import ArgumentParser
import Foundation

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

    /// ArgumentParser's `main`, except that the error a command fails with goes to stderr
    /// through ``LogOutput``, like the log lines that other threads may still be writing, so
    /// that none of them lands in the middle of it.
    static func main() async {
        var command: any ParsableCommand
        do {
            command = try await asyncParseAsRoot(nil)
        } catch {
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            guard code != .success, !message.isEmpty else { exit(withError: error) }
            LogOutput.standardError.write(Array((message + "\n").utf8), now: true)
            Foundation.exit(code.rawValue)
        }
    }
}
