import Foundation
import Logging
import MQTT

/// Helpers to make clients against a test broker.
extension MosquittoBroker {
    /// A connected client with a unique id; the caller shuts it down.
    package func connectedClient(
        _ name: String = "test",
        protocolVersion: MQTTProtocolVersion = .v5,
        configure: (inout MQTTConfiguration) -> Void = { _ in },
        onConnect: MQTTClient.ConnectHook? = nil,
        onMessage: MQTTClient.MessageHook? = nil
    ) async throws -> MQTTClient {
        let client = makeClient(name, protocolVersion: protocolVersion, configure: configure, onConnect: onConnect, onMessage: onMessage)
        try await withTimeout(.seconds(10), "connect \(name)") { try await client.connect() }
        return client
    }

    /// A client that is not connected yet.
    package func makeClient(
        _ name: String = "test",
        protocolVersion: MQTTProtocolVersion = .v5,
        configure: (inout MQTTConfiguration) -> Void = { _ in },
        onConnect: MQTTClient.ConnectHook? = nil,
        onMessage: MQTTClient.MessageHook? = nil
    ) -> MQTTClient {
        var configuration = MQTTConfiguration(host: "127.0.0.1", port: port, clientID: MQTTConfiguration.uniqueClientID(prefix: name))
        configuration.protocolVersion = protocolVersion
        configuration.reconnectDelay = 1...1
        configure(&configuration)
        return MQTTClient(configuration: configuration, logger: Logger.test(name), onMessage: onMessage, onConnect: onConnect)
    }
}

extension Logger {
    /// A logger for tests: warnings and above, on stderr.
    package static func test(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = ProcessInfo.processInfo.environment["COURIER_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }
}

/// A unique topic prefix per test, so tests can share a broker and run in parallel.
package func uniqueTopic(_ name: String) -> String {
    "test/\(name)/\(UUID().uuidString.prefix(8))"
}
