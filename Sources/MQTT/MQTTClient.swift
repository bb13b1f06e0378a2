internal import CMosquitto
import Foundation
import Logging
import Synchronization

/// An MQTT 5 (or 3.1.1) client over libmosquitto, safe to share between tasks.
///
/// An ``MQTTEventLoop`` drives it: the one in ``MQTTConfiguration/eventLoop``, or one of its
/// own (a thread of its own, on epoll). It reconnects with exponential backoff and
/// re-subscribes every filter after each reconnect. Publishes complete when the broker
/// acknowledges them (QoS 1) or when they are written (QoS 0). Every wait (connect, publish,
/// subscribe, ``messages``) ends when the waiting task is cancelled.
///
/// Received messages go either to ``messages`` (bounded, with backpressure) or, when the client
/// is made with an `onMessage` hook, to that hook on the network thread. The hook runs before
/// libmosquitto writes the PUBACK of a QoS 1 message, so a consumer can persist a message
/// before the broker considers it delivered.
///
/// Call ``shutdown()`` when done: it disconnects, stops the network thread and fails every
/// waiter. Nothing is torn down in `deinit`.
public final class MQTTClient: Sendable {
    /// Called on the network thread, before a QoS 1 message is acknowledged. It must not block
    /// for long and must not wait on this client.
    public typealias MessageHook = @Sendable (MQTTMessage) -> Void

    public let configuration: MQTTConfiguration
    let handle: MosquittoHandle

    /// Called on the network thread after every accepted CONNACK, the first and each one after
    /// a reconnect (to announce presence again, say). It must not block.
    public typealias ConnectHook = @Sendable () -> Void

    /// Called on the network thread after a run of `onMessage` calls, before the PUBACKs of
    /// those messages are written: the place to commit, in one go, what the hook gathered. A
    /// run is every message read from the socket in one go. It must not block for long.
    public typealias ReadBatchHook = @Sendable () -> Void

    /// Creates a client. Nothing is started until ``connect()``.
    public init(
        configuration: MQTTConfiguration,
        logger: Logger,
        onMessage: MessageHook? = nil,
        onConnect: ConnectHook? = nil,
        afterMessages: ReadBatchHook? = nil
    ) {
        self.configuration = configuration
        handle = MosquittoHandle(configuration: configuration, logger: logger, hook: onMessage, connectHook: onConnect, batchHook: afterMessages)
    }

    /// Messages received, in order; for one reader at a time. Empty when the client was made
    /// with an `onMessage` hook.
    public var messages: MQTTMessages { MQTTMessages(buffer: handle.inbound) }

    /// True while a CONNACK has been received and the connection has not dropped since.
    public var isConnected: Bool { handle.isConnected }

    /// Messages dropped because the ``messages`` reader did not keep up.
    public var droppedMessages: Int { handle.inbound.dropped }

    /// Connects and starts the network thread. Returns at the first accepted CONNACK; while the
    /// broker is unreachable it keeps trying. Throws ``MQTTError/connectionRefused(reasonCode:reason:)``
    /// when the broker refuses the client (libmosquitto does not retry after that).
    public func connect() async throws {
        try await handle.connect()
    }

    /// Publishes a message. QoS 1 returns the PUBACK; while the client is reconnecting a QoS 1
    /// message is queued by libmosquitto and sent on reconnect (it is never sent twice by this
    /// client). QoS 0 throws ``MQTTError/notConnected`` when there is no connection.
    @discardableResult
    public func publish(
        _ topic: String,
        payload: Data,
        qos: MQTTQoS = .atLeastOnce,
        retain: Bool = false,
        properties: MQTTProperties = .init()
    ) async throws -> PublishAck {
        try await handle.publish(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
    }

    /// Publishes a message without waiting: `completion` gets what the awaiting
    /// ``publish(_:payload:qos:retain:properties:)`` would return or throw, on the network thread
    /// (or at once when the message could not be queued). It must not block.
    ///
    /// For hot paths that would otherwise park a task per message until its PUBACK.
    public func publish(
        _ topic: String,
        payload: Data,
        qos: MQTTQoS = .atLeastOnce,
        retain: Bool = false,
        properties: MQTTProperties = .init(),
        completion: @escaping @Sendable (Result<PublishAck, MQTTError>) -> Void
    ) {
        handle.publish(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties, completion: completion)
    }

    /// Subscribes and waits for the SUBACK. The filter is subscribed again after every
    /// reconnect. Shared subscriptions (`$share/group/filter`) work as any filter.
    public func subscribe(_ filter: String, qos: MQTTQoS = .atLeastOnce) async throws {
        try await handle.subscribe(filter, qos: qos)
    }

    /// Unsubscribes; the filter is no longer subscribed on reconnect.
    public func unsubscribe(_ filter: String) throws {
        try handle.unsubscribe(filter)
    }

    /// Disconnects, stops the network thread, fails every waiter and ends ``messages``.
    /// Safe to call more than once.
    public func shutdown() async {
        await handle.shutdown()
    }
}
