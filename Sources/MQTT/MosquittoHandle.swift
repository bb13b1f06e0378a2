internal import CMosquitto
import Foundation
import Logging
import Synchronization

/// Owns one `struct mosquitto` and is the target of its callbacks.
///
/// libmosquitto calls back on its network thread with the `obj` pointer given to
/// `mosquitto_new`, which is this object (see `callbacks.swift`). Callbacks copy what they are
/// given, update state under `state`'s lock, and resume continuations after unlocking. They
/// never await and never set callbacks.
final class MosquittoHandle: Sendable {
    enum Phase {
        case idle
        case connecting
        case connected
        case reconnecting
        case refused(MQTTError)
        case shutDown
    }

    struct State {
        var phase = Phase.idle
        /// The `struct mosquitto *`, from connect until shutdown.
        var mosq: Pointer?
        /// The loop driving the client, from start until shutdown: the configured one, or one
        /// of its own.
        var loop: MQTTEventLoop?
        /// True when ``loop`` was made for this client alone and is shut down with it.
        var ownsLoop = false
        var connectWaiters: [ResumeOnce<Void>] = []
        /// Every subscribed filter with its QoS, subscribed again after each reconnect.
        var subscriptions: [String: MQTTQoS] = [:]
        /// True once the client was handed to its loop, which then disconnects and destroys it
        /// at shutdown.
        var onEventLoop = false
    }

    let configuration: MQTTConfiguration
    let logger: Logger
    let hook: MQTTClient.MessageHook?
    let connectHook: MQTTClient.ConnectHook?
    let batchHook: MQTTClient.ReadBatchHook?
    let inbound: InboundBuffer
    let acks = AckTable()
    let state = Mutex(State())
    /// Set when a packet is queued and the loop has not yet taken this client's write request:
    /// publishes after the first skip the loop's inbox lock (``MQTTEventLoop/wantsWrite(_:)``).
    let writeRequested = Atomic<Bool>(false)

    init(
        configuration: MQTTConfiguration,
        logger: Logger,
        hook: MQTTClient.MessageHook?,
        connectHook: MQTTClient.ConnectHook?,
        batchHook: MQTTClient.ReadBatchHook? = nil
    ) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "mqtt.client"] = "\(configuration.clientID)"
        self.logger = logger
        self.hook = hook
        self.connectHook = connectHook
        self.batchHook = batchHook
        inbound = InboundBuffer(capacity: configuration.inboundCapacity, overflowWait: configuration.inboundOverflowWait)
    }

    var isConnected: Bool {
        state.withLock { if case .connected = $0.phase { true } else { false } }
    }

    // MARK: Connecting

    func connect() async throws {
        let shouldStart: Bool = try state.withLock { state in
            switch state.phase {
            case .idle:
                state.phase = .connecting
                return true
            case .refused(let error): throw error
            case .shutDown: throw MQTTError.shutdown
            case .connecting, .connected, .reconnecting: return false
            }
        }
        if shouldStart {
            do {
                try await start()
            } catch {
                state.withLock { $0.phase = .refused(error) }
                throw error
            }
        }
        try await withCancellableContinuation { (waiter: ResumeOnce<Void>) in
            let outcome: Result<Void, any Error>? = state.withLock { state in
                switch state.phase {
                case .connected: return .success(())
                case .refused(let error): return .failure(error)
                case .shutDown: return .failure(MQTTError.shutdown)
                case .idle, .connecting, .reconnecting:
                    state.connectWaiters.append(waiter)
                    return nil
                }
            }
            if let outcome { waiter.resume(with: outcome) }
        }
    }

    /// Creates the libmosquitto client and hands it to its event loop, which sends CONNECT and
    /// drives it from then on.
    private func start() async throws(MQTTError) {
        _ = Mosquitto.initialized
        let config = configuration
        let isV5 = config.protocolVersion == .v5
        // Retained for libmosquitto's callbacks; released in `shutdown()` after
        // `mosquitto_destroy`, when no callback can run any more.
        let obj = Unmanaged.passRetained(self).toOpaque()
        guard let mosq = mosquitto_new(config.clientID, config.cleanStart, obj) else {
            Unmanaged<MosquittoHandle>.fromOpaque(obj).release()
            throw .invalidConfiguration("libmosquitto could not create client \(config.clientID)")
        }
        state.withLock { $0.mosq = Pointer(mosq) }

        try Mosquitto.check(mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, isV5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311))
        // Without TCP_NODELAY every request/reply round trip waits 40-90 ms for Nagle.
        try Mosquitto.check(mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1))
        try Mosquitto.check(
            mosquitto_reconnect_delay_set(mosq, config.reconnectDelay.lowerBound, config.reconnectDelay.upperBound, true)
        )
        if let username = config.username {
            try Mosquitto.check(mosquitto_username_pw_set(mosq, username, config.password))
        }
        if config.usesTLS {
            if let tls = config.tls {
                try Mosquitto.check(mosquitto_tls_set(mosq, tls.caFile, nil, tls.certFile, tls.keyFile, nil))
            } else {
                try Mosquitto.check(mosquitto_int_option(mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1))
            }
        }
        if let will = config.will {
            var properties = try OutgoingProperties(isV5 ? will.properties : MQTTProperties())
            let list = properties.take()
            let code = will.payload.withUnsafeBytes { bytes in
                mosquitto_will_set_v5(mosq, will.topic, Int32(bytes.count), bytes.baseAddress, Int32(will.qos.rawValue), will.retain, list)
            }
            if code != Mosquitto.success {
                // On error the list stays ours to free.
                var owned = list
                mosquitto_property_free_all(&owned)
                throw Mosquitto.error(code)
            }
        }
        installCallbacks(mosq)
        // Without a shared loop the client gets one of its own: one thread, as libmosquitto's
        // own loop would be, but on epoll, so a socket numbered 1024 or above works too
        // (libmosquitto's `select()` loop stops for good on one).
        let eventLoop: MQTTEventLoop
        if let shared = config.eventLoop {
            eventLoop = shared
        } else {
            eventLoop = try MQTTEventLoop(label: "mqtt.\(config.clientID)", logger: logger)
        }
        state.withLock { state in
            state.loop = eventLoop
            state.ownsLoop = config.eventLoop == nil
        }
        try await start(on: eventLoop, mosq)
    }

    // MARK: Publishing and subscribing

    /// Publishes and waits for the acknowledgement. A cancelled wait throws
    /// `CancellationError`; the message may still be delivered.
    func publish(topic: String, payload: Data, qos: MQTTQoS, retain: Bool, properties: MQTTProperties) async throws -> PublishAck {
        try await withCancellableContinuation { waiter in
            publish(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties) { result in
                waiter.resume(with: result.mapError { $0 })
            }
        }
    }

    func publish(
        topic: String,
        payload: Data,
        qos: MQTTQoS,
        retain: Bool,
        properties: MQTTProperties,
        completion: @escaping @Sendable (Result<PublishAck, MQTTError>) -> Void
    ) {
        let queued: (mid: Int32, epoch: Int)
        do {
            queued = try queue(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        } catch {
            return completion(.failure(error))
        }
        acks.register(queued.mid, kind: qos == .atLeastOnce ? .publishQoS1 : .publishQoS0, epoch: queued.epoch) { result in
            completion(result.map(PublishAck.init(reasonCode:)))
        }
    }

    /// Hands a message to libmosquitto; returns its message id and the connection epoch.
    private func queue(topic: String, payload: Data, qos: MQTTQoS, retain: Bool, properties: MQTTProperties) throws(MQTTError)
        -> (mid: Int32, epoch: Int)
    {
        let (mosq, loop) = try liveHandle()
        let outgoing = try OutgoingProperties(configuration.protocolVersion == .v5 ? properties : MQTTProperties())
        let epoch = acks.epoch
        var mid: Int32 = 0
        let code = payload.withUnsafeBytes { bytes in
            mosquitto_publish_v5(mosq, &mid, topic, Int32(bytes.count), bytes.baseAddress, Int32(qos.rawValue), retain, outgoing.list)
        }
        // While reconnecting, libmosquitto answers MOSQ_ERR_NO_CONN for QoS 1 yet keeps the
        // message queued and sends it after reconnecting: wait for its PUBACK, never resend.
        loop?.wantsWrite(self)
        guard code == Mosquitto.success || (code == Mosquitto.noConnection && qos == .atLeastOnce) else {
            throw Mosquitto.error(code)
        }
        return (mid, epoch)
    }

    func subscribe(_ filter: String, qos: MQTTQoS) async throws {
        let (mosq, loop) = try state.withLock { state throws(MQTTError) in
            state.subscriptions[filter] = qos
            return try Self.live(state)
        }
        var mid: Int32 = 0
        let code = mosquitto_subscribe_v5(mosq, &mid, filter, Int32(qos.rawValue), 0, nil)
        if code == Mosquitto.noConnection { return }  // subscribed when the connection is back
        try Mosquitto.check(code)
        loop?.wantsWrite(self)
        let epoch = acks.epoch
        let granted = try await withCancellableContinuation { (waiter: ResumeOnce<Int>) in
            acks.register(mid, kind: .subscribe, epoch: epoch) { waiter.resume(with: $0.mapError { $0 }) }
        }
        if granted >= 0x80 {
            _ = state.withLock { $0.subscriptions.removeValue(forKey: filter) }
            throw MQTTError.subscriptionRefused(filter: filter, reasonCode: granted)
        }
    }

    func unsubscribe(_ filter: String) throws {
        let (mosq, loop) = try state.withLock { state throws(MQTTError) in
            state.subscriptions[filter] = nil
            return try Self.live(state)
        }
        let code = mosquitto_unsubscribe_v5(mosq, nil, filter, nil)
        guard code == Mosquitto.success || code == Mosquitto.noConnection else { throw Mosquitto.error(code) }
        loop?.wantsWrite(self)
    }

    private func liveHandle() throws(MQTTError) -> (OpaquePointer, MQTTEventLoop?) {
        try state.withLock { state throws(MQTTError) in try Self.live(state) }
    }

    /// The client and the loop driving it, unless it was refused or shut down.
    static func live(_ state: State) throws(MQTTError) -> (OpaquePointer, MQTTEventLoop?) {
        switch state.phase {
        case .refused(let error): throw error
        case .shutDown: throw .shutdown
        default: break
        }
        guard let mosq = state.mosq else { throw .notConnected }
        return (mosq.value, state.loop)
    }

    // MARK: Shutting down

    func shutdown() async {
        let (client, waiters, onEventLoop, loop, ownsLoop) = state.withLock { state in
            if case .shutDown = state.phase { return (Pointer?.none, [ResumeOnce<Void>](), false, MQTTEventLoop?.none, false) }
            state.phase = .shutDown
            defer {
                state.mosq = nil
                state.connectWaiters = []
                state.loop = nil
            }
            return (state.mosq, state.connectWaiters, state.onEventLoop, state.loop, state.ownsLoop)
        }
        for waiter in waiters { waiter.resume(throwing: MQTTError.shutdown) }
        acks.failAll(with: .shutdown)
        inbound.finish()
        guard let client else { return }
        if onEventLoop, let loop {
            // The loop thread disconnects and destroys it.
            await loop.detach(self)
        } else {
            // Never handed to its loop: no thread drives it.
            mosquitto_destroy(client.value)
        }
        if ownsLoop, let loop { await loop.shutdown() }
        // Balances the retain in `start()`: no callback can run after mosquitto_destroy.
        Unmanaged.passUnretained(self).release()
    }

    // MARK: Callbacks (network thread)

    func didConnect(_ mosq: OpaquePointer, code: Int32) {
        if code == 0 {
            let (waiters, filters): ([ResumeOnce<Void>], [String: MQTTQoS]) = state.withLock { state in
                guard case .shutDown = state.phase else {
                    state.phase = .connected
                    defer { state.connectWaiters = [] }
                    return (state.connectWaiters, state.subscriptions)
                }
                return ([], [:])
            }
            for (filter, qos) in filters {
                var mid: Int32 = 0
                if mosquitto_subscribe_v5(mosq, &mid, filter, Int32(qos.rawValue), 0, nil) == Mosquitto.success {
                    acks.ignore(mid)
                }
            }
            logger.debug("connected", metadata: ["mqtt.resubscribed": "\(filters.count)"])
            connectHook?()
            for waiter in waiters { waiter.resume(with: .success(())) }
            return
        }
        let reason = configuration.protocolVersion == .v5
            ? Mosquitto.reasonString(code) : String(cString: mosquitto_connack_string(code))
        let error = MQTTError.connectionRefused(reasonCode: Int(code), reason: reason)
        let waiters: [ResumeOnce<Void>] = state.withLock { state in
            state.phase = .refused(error)
            defer { state.connectWaiters = [] }
            return state.connectWaiters
        }
        // For MQTT 3.1.1 refusals libmosquitto would otherwise reconnect forever.
        mosquitto_disconnect(mosq)
        logger.error("broker refused the connection", metadata: ["mqtt.reason": "\(reason)", "mqtt.reason_code": "\(code)"])
        acks.failAll(with: error)
        for waiter in waiters { waiter.resume(throwing: error) }
    }

    func didDisconnect(code: Int32) {
        let wasConnected: Bool = state.withLock { state in
            guard case .connected = state.phase else { return false }
            state.phase = .reconnecting
            return true
        }
        acks.failLostOnDisconnect()
        if wasConnected, code != 0 {
            logger.warning("connection lost, reconnecting", metadata: ["mqtt.error": "\(Mosquitto.error(code))"])
        }
    }

    /// The event loop read what the socket had, and is about to write the PUBACKs.
    func didFinishReading() {
        batchHook?()
    }

    func didPublish(mid: Int32, reason: Int32) {
        acks.acknowledge(mid, code: Int(reason))
    }

    func didSubscribe(mid: Int32, granted: Int32) {
        acks.acknowledge(mid, code: Int(granted))
    }

    func didReceive(_ message: MQTTMessage) {
        if let hook {
            hook(message)
        } else if !inbound.push(message) {
            logger.warning("inbound buffer full, message dropped", metadata: ["mqtt.topic": "\(message.topic)"])
        }
    }
}

/// The `struct mosquitto *`, as kept in the handle's state.
///
/// `@unchecked Sendable`: libmosquitto's publish, subscribe and disconnect calls are thread safe
/// on an ``MQTTEventLoop``, which turns `mosquitto_threaded_set` on (they lock internally).
/// Setting callbacks and `mosquitto_destroy` are not: callbacks are set once before the loop
/// starts, and the client is destroyed only after its pointer is out of the shared state, on
/// the loop thread once the loop has let it go (or at once if no loop ever had it).
struct Pointer: @unchecked Sendable {
    let value: OpaquePointer
    init(_ value: OpaquePointer) { self.value = value }
}
