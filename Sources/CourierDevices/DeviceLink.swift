import Logging
import MQTT
import Synchronization

/// A simulated device's connection, which a command can take down for a while: the device then
/// comes back on a new client with the same configuration (client id, persistent session), so
/// the broker delivers what was sent to it meanwhile.
final class DeviceLink: Sendable {
    let configuration: MQTTConfiguration
    /// What the device subscribes to after every connect.
    let filters: [String]
    private let logger: Logger
    private let onConnect: MQTTClient.ConnectHook
    private let onMessage = Mutex<MQTTClient.MessageHook?>(nil)
    private let current = Mutex<MQTTClient?>(nil)
    /// Set while the device is offline, so that overlapping commands take it down once.
    private let away = Mutex(false)

    init(configuration: MQTTConfiguration, filters: [String], logger: Logger, onConnect: @escaping MQTTClient.ConnectHook) {
        self.configuration = configuration
        self.filters = filters
        self.logger = logger
        self.onConnect = onConnect
    }

    /// Makes the first client, handing every message it and its successors receive to `hook`.
    func start(onMessage hook: @escaping MQTTClient.MessageHook) {
        onMessage.withLock { $0 = hook }
        current.withLock { $0 = makeClient() }
    }

    private func makeClient() -> MQTTClient {
        MQTTClient(configuration: configuration, logger: logger, onMessage: onMessage.withLock { $0 }, onConnect: onConnect)
    }

    /// The client in use; ``start(onMessage:)`` must have been called.
    var client: MQTTClient { current.withLock { $0! } }

    /// Connects the client in use and subscribes ``filters``.
    func connect() async throws {
        let client = client
        try await client.connect()
        for filter in filters { try await client.subscribe(filter, qos: .atLeastOnce) }
    }

    /// Disconnects, stays away for `duration`, then connects a new client. Returns false,
    /// doing nothing, when the device is already offline.
    func goOffline(for duration: Duration) async -> Bool {
        guard away.withLock({ away in
            defer { away = true }
            return !away
        }) else { return false }
        await client.shutdown()
        try? await Task.sleep(for: duration)
        current.withLock { $0 = makeClient() }
        // Fails only when the run is ending (its event loops shut down): nothing to answer then.
        try? await connect()
        away.withLock { $0 = false }
        return true
    }
}
