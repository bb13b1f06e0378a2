import CourierCore
import CourierStore
import Foundation
import MQTT
import Synchronization

extension Bridge {
    /// With a shared store: renews this bridge's lease a few times per lease timeout, and takes
    /// over the requests of bridges whose lease lapsed, with what is still queued for their
    /// broker sessions (``adoptSession(of:)``). Runs until cancelled.
    ///
    /// A bridge takes over only after renewing its own lease for a whole lease timeout: after
    /// an outage of the store every bridge's lease has lapsed, and the live ones must first
    /// have had the time to renew theirs.
    func runLeases(_ store: any SharedRequestStore) async {
        let timeout = configuration.leaseTimeout
        let period = Duration.milliseconds(max(timeout.milliseconds / 3, 100))
        var renewingSince: ContinuousClock.Instant?
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let now = ContinuousClock.now
                let held = await onNetworkThread(closed: false) { self.holdLease(store) }
                renewingSince = held ? (renewingSince ?? now) : nil
                if let since = renewingSince, now - since >= timeout {
                    let takeovers: [Takeover] = await onNetworkThread(closed: []) { self.takeOver(store) }
                    for case let bridgeID? in takeovers.map(\.bridgeID) {
                        group.addTask { await self.adoptSession(of: bridgeID) }
                    }
                }
                try? await Task.sleep(for: period)
            }
        }
    }

    /// Renews the lease, on the network thread; whether the store answered. A lease that was
    /// gone means this bridge could not renew it in time and another may have taken its
    /// requests over: they are that bridge's now, and this one goes on with its new lease.
    func holdLease(_ store: any SharedRequestStore) -> Bool {
        let now = unixMillis()
        do {
            let held = try store.renewLease(expiresAt: now + configuration.leaseTimeout.milliseconds, now: now)
            storeAnswered(true)
            if !held, leaseHeld.exchange(true, ordering: .relaxed) {
                logger.warning("this bridge's lease had lapsed: other bridges may have taken over its requests")
            }
            return true
        } catch {
            if storeAnswered(false) {
                logger.error("cannot renew the bridge's lease", metadata: ["error": "\(error)"])
            }
            return false
        }
    }

    /// Takes over the requests of bridges whose lease lapsed, on the network thread; what was
    /// taken.
    private func takeOver(_ store: any SharedRequestStore) -> [Takeover] {
        do {
            let takeovers = try store.takeOverLapsedLeases(now: unixMillis())
            for takeover in takeovers {
                metrics.takeovers.increment()
                logger.warning(
                    "took over the requests of a bridge whose lease lapsed",
                    metadata: ["from": "\(takeover.bridgeID ?? "(none)")", "requests": "\(takeover.requests)"]
                )
            }
            return takeovers
        } catch {
            logger.error("cannot take over lapsed leases", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// Connects as the lapsed bridge's durable broker session and takes in what was queued
    /// for it: device requests of its share of the intake (delivered to it and never
    /// acknowledged, or queued while it was down) and worker replies to its reply topic. They
    /// go through this bridge's intake on its network thread, committed before their PUBACKs
    /// like any other. Once nothing has arrived for a second the session is ended (session
    /// expiry 0), so the broker stops queuing for it; the lapsed bridge, if it comes back,
    /// starts a new one.
    func adoptSession(of bridgeID: String) async {
        var mqtt = mqttConfiguration
        mqtt.clientID = Self.clientID(bridgeID)
        mqtt.cleanStart = false
        mqtt.sessionExpiry = 0
        // Never back: a bridge that reconnects with its own id takes its session back.
        mqtt.reconnectDelay = 3600...3600
        let lastMessage = Atomic<Int64>(unixMillis())
        let replies = topics.bridgeReplies(bridgeID)
        let received = Atomic<Int>(0)
        let client = MQTTClient(
            configuration: mqtt,
            logger: logger,
            onMessage: { [weak self] message in
                lastMessage.store(unixMillis(), ordering: .relaxed)
                received.add(1, ordering: .relaxed)
                guard let self else { return }
                if message.topic == replies { workerReply(message) } else { receive(message) }
            },
            afterMessages: { [weak self] in self?.acceptInbound() }
        )
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.connect() }
                group.addTask {
                    try await Task.sleep(for: Self.adoptionLimit)
                    throw MQTTError.notConnected
                }
                try await group.next()
                group.cancelAll()
            }
            // What was queued came right after the CONNACK; new intake is for live bridges.
            for filter in intakeFilters { try client.unsubscribe(filter) }
            lastMessage.store(unixMillis(), ordering: .relaxed)
            let started = ContinuousClock.now
            while !Task.isCancelled, unixMillis() - lastMessage.load(ordering: .relaxed) < 1000,
                ContinuousClock.now - started < Self.adoptionLimit
            {
                try? await Task.sleep(for: .milliseconds(100))
            }
        } catch {
            logger.error("cannot adopt the broker session of a lapsed bridge", metadata: ["from": "\(bridgeID)", "error": "\(error)"])
        }
        await client.shutdown()
        logger.info(
            "adopted the broker session of a lapsed bridge",
            metadata: ["from": "\(bridgeID)", "messages": "\(received.load(ordering: .relaxed))"]
        )
    }

    /// The longest the adoption of a lapsed bridge's session runs.
    static let adoptionLimit: Duration = .seconds(30)

    /// The broker client id of a bridge.
    static func clientID(_ bridgeID: String) -> String { "courier-bridge-\(bridgeID)" }
}
