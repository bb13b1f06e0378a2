import ArgumentParser
import CourierTesting
import Logging
import MQTT

/// The broker a benchmark talks to, shared by every subcommand.
struct BrokerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Broker to use, as mqtt://HOST:PORT. By default a private mosquitto is started on a free loopback port.", valueName: "url"))
    var broker: String?

    func validate() throws {
        if let broker {
            do {
                _ = try MQTTConfiguration(url: broker, clientID: "validate")
            } catch {
                throw ValidationError("--broker: \(error)")
            }
        }
    }

    /// Runs `body` against the chosen broker; a private mosquitto is stopped afterwards.
    func withBroker<T>(_ body: (BenchBroker) async throws -> T) async throws -> T {
        if let broker {
            return try await body(BenchBroker(url: broker, isPrivate: false))
        }
        return try await CourierTesting.withBroker { mosquitto in
            try await body(BenchBroker(url: mosquitto.url, isPrivate: true))
        }
    }
}

/// Where benchmark clients connect, and how they are made.
struct BenchBroker: Sendable {
    let url: String
    /// True for the mosquitto this process started.
    let isPrivate: Bool

    /// Runs `body` with a connected client and shuts the client down afterwards.
    func withClient<T>(
        _ name: String,
        onMessage: MQTTClient.MessageHook? = nil,
        _ body: (MQTTClient) async throws -> T
    ) async throws -> T {
        let configuration = try MQTTConfiguration(url: url, clientID: MQTTConfiguration.uniqueClientID(prefix: "bench-\(name)"))
        var logger = Logger(label: "courier-bench.\(name)")
        logger.logLevel = .warning
        let client = MQTTClient(configuration: configuration, logger: logger, onMessage: onMessage)
        do {
            try await connect(client)
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// Connects, giving up after 10 s: `connect()` keeps retrying an unreachable broker.
    private func connect(_ client: MQTTClient) async throws {
        let watchdog = Task {
            try await Task.sleep(for: .seconds(10))
            await client.shutdown()
        }
        defer { watchdog.cancel() }
        do {
            try await client.connect()
        } catch MQTTError.shutdown {
            throw FixtureError.timeout("connecting to \(url)")
        }
    }
}
