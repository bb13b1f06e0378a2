import CourierCore
import CourierEngine
import CourierStore
import CourierWorkers
import Foundation
import Logging
import MQTT
import ServiceLifecycle
import Synchronization

/// The daemon that owns correlations: the shell around the ``RequestEngine``. It carries
/// events in (device requests, HTTP submissions, worker results, timers, PUBACKs) and the
/// engine's effects out (store, publish, dispatch, count, log). Every store write runs on
/// its MQTT network thread, the one writer, in group commits. A `Service`: run it in a
/// `ServiceGroup`; SIGTERM stops intake, drains the work in flight and closes the store.
package final class Bridge: Service, Sendable {
    /// Where attempts go.
    package enum Workers: Sendable {
        /// Worker daemons over MQTT (`courier bridge` + `courier worker`).
        case mqtt
        /// Handlers in this process (`courier serve`).
        case inMemory(WorkerPool)
    }

    package let configuration: CourierConfiguration
    package let store: any RequestStore
    let engine: RequestEngine
    let topics: Topics
    let client: MQTTClient
    /// The broker connection's settings, for adopting a lapsed bridge's session.
    let mqttConfiguration: MQTTConfiguration
    let logger: Logger
    let metrics = BridgeMetrics()
    let directory = WorkerDirectory()
    let replyTopic: String
    private let dispatcherBox = Mutex<(any WorkDispatcher)?>(nil)
    private let pool: WorkerPool?
    let deliveries = DeliveryTracker()
    let window = DispatchWindow(size: Bridge.dispatchWindow)
    /// Group commit of final outcomes and delivery marks on the network thread; see ``commit(_:)``.
    let commits: CommitQueue<StoreWork>
    /// Publishes handed to the MQTT client and not yet acknowledged.
    let outgoing = Atomic<Int>(0)
    /// Requests received (from devices, HTTP, replays) and not yet recorded.
    let inbound = InboundQueue()
    /// Devices' cancels read in the current batch, handled after its commit.
    let deviceCancels = Mutex<[(ParsedCancelTopic, Data?)]>([])
    /// Callers watching requests (`Prefer: wait`, event streams).
    let watchers = RequestWatchers()
    /// Workers' latest progress on requests in flight, and its throttle towards devices.
    let progress: ProgressBoard
    /// The network thread of the bridge's MQTT client.
    private let eventLoop: MQTTEventLoop
    /// Where the retention purge runs: a store write that may wait for the store's writer
    /// (SQLite's applying thread, PostgreSQL's round trips), which the network thread must not.
    let housekeeping = DispatchQueue(label: "courier.housekeeping")
    /// Whether the store answered its last write or lease renewal.
    let storeReachable = Atomic<Bool>(true)
    /// Whether this bridge has held a lease in a shared store since it started.
    let leaseHeld = Atomic<Bool>(false)
    /// Unix ms after which the worker directory is trusted to say no worker is present.
    let presenceSettlesAt = Atomic<Int64>(.max)
    private let stopping = Atomic<Bool>(false)
    let refused = Atomic<Int>(0)
    /// Requests answered 429 or 503 (or refused over HTTP) without being stored, since start.
    package var refusals: Int { refused.load(ordering: .relaxed) }
    /// After SIGTERM: requests are still recorded (and acknowledged) but start no attempt.
    var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// - Parameters:
    ///   - mqtt: the broker connection; the bridge makes it a durable session (clean start off,
    ///     session expiry one day) under the client id `courier-bridge-{bridgeID}`.
    package init(
        configuration: CourierConfiguration,
        mqtt: MQTTConfiguration,
        store: any RequestStore,
        workers: Workers,
        logger: Logger
    ) throws {
        self.configuration = configuration
        self.store = store
        topics = configuration.topics
        self.logger = logger
        engine = RequestEngine(configuration: configuration)
        replyTopic = topics.bridgeReplies(configuration.bridgeID)
        progress = ProgressBoard(interval: configuration.progressInterval.milliseconds)

        var mqtt = mqtt
        mqtt.clientID = Self.clientID(configuration.bridgeID)
        mqtt.cleanStart = false
        mqtt.sessionExpiry = 86_400
        // Its own loop, so that intake can commit every request read in one go before any of
        // their PUBACKs is written.
        let eventLoop = try MQTTEventLoop(label: "courier.mqtt", logger: logger)
        self.eventLoop = eventLoop
        mqtt.eventLoop = eventLoop
        mqttConfiguration = mqtt
        let target = HookTarget()
        commits = CommitQueue(schedule: { eventLoop.execute($0) }) { batch in target.bridge?.commit([], batch) }
        client = MQTTClient(
            configuration: mqtt,
            logger: logger,
            onMessage: { message in target.bridge?.receive(message) },
            afterMessages: { target.bridge?.acceptInbound() }
        )
        switch workers {
        case .mqtt:
            pool = nil
        case .inMemory(let pool):
            self.pool = pool
        }
        target.bridge = self
        let dispatcher: any WorkDispatcher =
            if let pool {
                InMemoryDispatcher(
                    pool: pool,
                    sink: { [weak self] id, result in
                        guard let self else { return }
                        perform(engine.workerReplied(
                            requestID: id, status: result.status, payload: result.payload,
                            contentType: result.contentType, userProperties: result.userProperties
                        ))
                    },
                    progress: { [weak self] id, status, percent, payload, contentType in
                        guard let self else { return }
                        let report = HandlerResponse(status: status, payload: payload, contentType: contentType)
                        onNetworkThread { self.workerReported(id, report, percent: percent) }
                    }
                )
            } else {
                MQTTDispatcher(client: client, directory: directory, topics: topics, bridgeID: configuration.bridgeID, mode: configuration.workers.dispatch)
            }
        dispatcherBox.withLock { $0 = dispatcher }
    }

    var dispatcher: any WorkDispatcher { dispatcherBox.withLock { $0! } }

    /// Why the bridge is not ready, when it is not.
    package var notReadyReason: String? {
        if !client.isConnected { return "the bridge is not connected to the broker" }
        if !storeReachable.load(ordering: .relaxed) { return "the bridge cannot reach its store" }
        return nil
    }

    /// The MQTT filters the bridge takes device requests and cancels from, and with commands
    /// configured backends' commands and devices' answers; shared, so several bridges can
    /// split the load.
    var intakeFilters: [String] {
        var filters = topics.requestFilters + topics.cancelFilters
        if !configuration.commands.isEmpty { filters += topics.commandReplyFilters + [topics.commandSubmissionFilter] }
        return filters.map { "$share/courier-bridges/\($0)" }
    }

    package func run() async throws {
        do {
            // While the broker is unreachable connect() keeps trying: let SIGTERM end that too.
            try await withGracefulShutdownHandler {
                try await client.connect()
            } onGracefulShutdown: {
                Task { await self.client.shutdown() }
            }
        } catch MQTTError.shutdown {
            inbound.close()
            await eventLoop.shutdown()
            try store.close()
            logger.info("bridge stopped before the broker answered")
            return
        }
        metrics.brokerConnected.record(1)
        let shared = store as? any SharedRequestStore
        if let shared {
            // A lease before any request: what this bridge stores is its own.
            _ = await onNetworkThread(closed: false) { self.holdLease(shared) }
        }
        for filter in intakeFilters { try await client.subscribe(filter) }
        try await client.subscribe(replyTopic)
        if pool == nil {
            try await client.subscribe(topics.presenceFilter)
            // The retained presence messages follow the SUBACK.
            presenceSettlesAt.store(unixMillis() + Self.presenceGrace, ordering: .relaxed)
        } else {
            presenceSettlesAt.store(0, ordering: .relaxed)
        }
        logger.info(
            "bridge started",
            metadata: ["bridge.id": "\(configuration.bridgeID)", "store": "\(store.location)", "workers": "\(pool == nil ? "mqtt" : "in-memory")"]
        )
        onNetworkThread { self.sweepUndelivered(olderThan: nil) }

        await withDiscardingTaskGroup { group in
            group.addTask { await self.runTimers() }
            group.addTask { await self.runPurges() }
            if let shared { group.addTask { await self.runLeases(shared) } }
            try? await gracefulShutdown()
            // The intake subscriptions stay in the durable session: requests published while
            // the bridge is down wait at the broker for its next start.
            stopping.store(true, ordering: .relaxed)
            logger.info("bridge stopping: no new attempts, draining")
            await drain(limit: .seconds(10))
            group.cancelAll()
        }
        // Fails publishes still waiting (a broker that went away with us); their delivery marks
        // go to the commit queue, which is closed after. Submissions still queued are refused.
        await client.shutdown()
        inbound.close()
        await eventLoop.shutdown()
        commits.close()
        metrics.brokerConnected.record(0)
        if let shared {
            // Another bridge takes over what is left at its next look, not after the timeout.
            do { try shared.releaseLease() } catch { logger.warning("cannot release the bridge's lease", metadata: ["error": "\(error)"]) }
        }
        try store.close()
        logger.info("bridge stopped")
    }

    /// How long after subscribing to presence a missing worker is not yet taken as absent.
    static let presenceGrace: Int64 = 1000

    /// What admission needs to know now.
    var conditions: Conditions {
        Conditions(stopping: isStopping) { [self] in mayHaveWorker(for: $0) }
    }

    /// Runs `work` on the network thread, the store's one writer. Work handed over before
    /// shutdown always runs (see ``MQTTEventLoop/execute(_:)``); false when it was too late.
    @discardableResult
    func onNetworkThread(_ work: @escaping @Sendable () -> Void) -> Bool {
        inbound.whileOpen { eventLoop.execute(work) }
    }

    /// Runs `work` on the network thread and returns its result; `closed` once the bridge has
    /// stopped.
    func onNetworkThread<T: Sendable>(closed: T, _ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            if !onNetworkThread({ continuation.resume(returning: work()) }) { continuation.resume(returning: closed) }
        }
    }

    /// Waits until no in-memory attempt, store write or publish is in flight, or the limit passes.
    private func drain(limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline,
            (pool?.inFlight ?? 0) > 0 || !commits.isIdle || outgoing.load(ordering: .relaxed) > 0
        {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Lets the MQTT hook, made before the bridge exists, reach it without a retain cycle.
private final class HookTarget: Sendable {
    private let reference = Mutex<WeakBridge>(WeakBridge())

    var bridge: Bridge? {
        get { reference.withLock { $0.value } }
        set { reference.withLock { $0.value = newValue } }
    }
}

private struct WeakBridge: @unchecked Sendable {
    // `@unchecked Sendable`: only read and written under HookTarget's mutex.
    weak var value: Bridge?
}
