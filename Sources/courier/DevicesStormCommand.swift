import ArgumentParser
import CourierCore
import CourierDevices
import Dispatch
import Foundation

/// `courier devices storm`: hostile input against a running Courier, with good requests in
/// among it, checked reply by reply.
struct DevicesStormCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storm",
        abstract: "Send hostile input through Courier and check that good requests still get their replies.",
        discussion: """
            A few MQTT 5 and 3.1.1 clients, and hand-written connections for what no MQTT client \
            library sends, publish --messages generated bad messages (topics of every shape, \
            empty, huge and invalid properties, forbidden response topics, binary, oversized and \
            malformed JSON payloads, duplicates), the same for the same --seed and --token. \
            Meanwhile well-behaved devices send --good requests (echo and telemetry.summary, \
            MQTT 5 and 3.1.1) and a bystander device that never asks listens to its namespace. \
            The bridge's memory is watched when --bridge-pid is given. Prints a report; exits \
            with status 1 when a good request did not get exactly its one correct reply, \
            anything reached a device that did not ask, the request sent after the storm went \
            unanswered, or the bridge process is gone (2 when it could not start: no broker, \
            no answer to the warm-up requests). Ctrl-C stops early and still prints the report.
            """
    )

    @Option(name: .long, help: "Broker URL, mqtt://HOST:PORT.")
    var broker: String = "mqtt://127.0.0.1:1883"

    @Option(name: .long, help: "Hostile messages to send.")
    var messages: Int = 10_000

    @Option(name: .long, help: "Good requests, spread among the hostile messages.")
    var good: Int = 1_000

    @Option(name: .long, help: "Seed of the generated messages.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Run token in device ids and correlations (random by default; with --seed it repeats a run's messages).")
    var token: String?

    @Option(name: .customLong("bridge-pid"), help: "The bridge's pid (courier serve or courier bridge): its memory is watched and it must still run.")
    var bridgePID: Int32?

    @Option(name: .customLong("bridge-id"), help: "The bridge's id, whose reply topic gets forged worker replies.")
    var bridgeID: String = "bridge-1"

    @Option(name: .long, help: "Hostile messages per second (as fast as the window allows by default).")
    var rate: Double?

    @Option(name: .long, help: "Hostile messages in flight at most.")
    var window: Int = 256

    @Option(name: .customLong("reply-timeout"), help: "A good request without its reply after this is missing, e.g. 30s.")
    var replyTimeout: String = "30s"

    @Option(name: .customLong("max-payload-bytes"), help: "The operations' maxPayloadBytes.")
    var maxPayloadBytes: Int = 262_144

    @Flag(name: .long, help: "Print the report as JSON on stdout (progress goes to stderr).")
    var json = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "warning"

    func validate() throws {
        if messages < 0 { throw ValidationError("--messages must not be negative") }
        if good < 1 { throw ValidationError("--good must be at least 1") }
        if window < 1 { throw ValidationError("--window must be at least 1") }
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive") }
        if let token, !Topics.isValidID(token) || token.count > 20 || token.contains(".") {
            throw ValidationError("--token must be 1 to 20 characters from [A-Za-z0-9_-]")
        }
        if DurationText.parse(replyTimeout).map({ $0 > .zero }) != true {
            throw ValidationError("--reply-timeout must be a duration such as 30s")
        }
        if !broker.hasPrefix("mqtt://") {
            throw ValidationError("--broker must be mqtt://HOST:PORT (the wire connections do not speak TLS)")
        }
    }

    func run() async throws {
        let logger = Logs.bootstrap(level: logLevel)
        var options = Storm.Options()
        options.messages = messages
        options.goodRequests = good
        options.seed = seed
        options.token = token
        options.bridgePID = bridgePID
        options.bridgeID = bridgeID
        options.rate = rate
        options.window = window
        options.maxPayloadBytes = maxPayloadBytes
        options.replyTimeout = DurationText.parse(replyTimeout) ?? .seconds(30)
        let storm = try Storm(broker: broker, options: options, logger: logger)
        let json = self.json
        let run = Task {
            try await storm.run { line in
                if json {
                    FileHandle.standardError.write(Data((line + "\n").utf8))
                } else {
                    print(line)
                }
            }
        }
        signal(SIGINT, SIG_IGN)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        interrupt.setEventHandler { run.cancel() }
        interrupt.resume()
        defer { interrupt.cancel() }

        let report: StormReport
        do {
            report = try await run.value
        } catch let error as StormError {
            FileHandle.standardError.write(Data("courier devices storm: \(error)\n".utf8))
            throw ExitCode(2)
        } catch is CancellationError {
            FileHandle.standardError.write(Data("interrupted while connecting\n".utf8))
            throw ExitCode(130)
        }
        if json {
            print(try report.json())
        } else {
            print(report.summary)
        }
        if !report.isClean { throw ExitCode(1) }
    }
}
