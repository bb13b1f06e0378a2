import CourierCore
import Foundation
import Logging
import MQTT
import ServiceLifecycle
import Synchronization

/// The `courier worker` daemon: takes work for its pool's operations from the broker through a
/// shared subscription, runs it through the ``WorkerPool`` and replies to the bridge.
///
/// Run it in a `ServiceGroup` (or call ``run()`` from a task of your own):
///
/// ```swift
/// let pool = WorkerPool(handlers: BuiltinHandlers.all, concurrency: 8, logger: logger)
/// var mqtt = try MQTTConfiguration(url: "mqtt://127.0.0.1:1883", clientID: "")
/// mqtt.username = "courier-worker"
/// let worker = WorkerService(pool: pool, mqtt: mqtt, logger: logger)
/// let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
///
/// What it does, in the contract's terms ("Bridge and workers"):
///
/// - connects as client id ``workerID`` with clean start (a dead member of a shared group must
///   not keep messages queued for it), and a Will that clears its presence;
/// - subscribes, for every operation of the pool, its own work topic
///   `courier/workers/{workerId}/work/{operation}` (direct dispatch) and, unless made with
///   `dispatch: .direct`, `$share/courier-workers/courier/work/{operation}` (shared dispatch;
///   a broker without shared subscriptions refuses it); then
///   publishes its retained presence ``WorkerPresence`` on `courier/workers/{workerId}` (so
///   presence means "ready to take work"), and publishes it again every `presenceRefresh`: if
///   the connection drops, the broker publishes the Will and the next refresh after the
///   reconnect brings presence back;
/// - runs each work message through the pool (earliest deadline first, see ``WorkerPool``)
///   and answers on its Response Topic with its Correlation Data and user property `status`,
///   after any progress reports and heartbeats the handler makes (``WorkProgress``). Work is
///   taken and started on the connection's network thread, where a handler that
///   ``OperationHandler/startsImmediately`` runs until it first suspends. It holds at most
///   `pool.concurrency + backlog` messages: beyond that it reads no more, so the rest wait in
///   the broker, for at most the connection's ``MQTTConfiguration/inboundOverflowWait`` at a
///   time (keep-alives must go out): then it takes one more into the pool's queue and logs it.
///   A message whose deadline has passed is dropped unanswered (the bridge answers 504); one
///   without Response Topic or Correlation Data is logged and ignored;
/// - on a cancellation (`{"id":"<request id>"}` on `courier/cancellations`) cancels that
///   request's handler task, or takes it out of the queue, and publishes no answer for it.
///   Cancellations come on a second connection, client id `{workerId}-cancellations` (no
///   Will), so that they are heard while the work connection reads nothing more.
///
/// On graceful shutdown (SIGTERM in a `ServiceGroup`) it unsubscribes, lets work in flight finish
/// and publishes its replies, clears its presence (an empty retained message) and disconnects.
/// While the broker is unreachable those last publishes wait for it; bound that with the group's
/// `maximumGracefulShutdownDuration`. On cancellation it disconnects at once: replies not yet
/// published are lost and the bridge retries those requests.
public final class WorkerService: Service {
    /// The id this worker connects and announces itself with.
    public let workerID: String
    /// The handlers and concurrency limit this worker serves with.
    public let pool: WorkerPool
    public let topics: Topics
    /// How the worker connects: the caller's broker settings with this worker's client id,
    /// clean start and Will.
    public let mqttConfiguration: MQTTConfiguration
    /// How often retained presence is published again while serving; nil for never.
    public let presenceRefresh: Duration?
    /// The longest a graceful shutdown waits for acknowledgements.
    public let drainLimit: Duration
    /// `.direct`: take work only on this worker's own topics (no shared subscription).
    public let dispatch: CourierConfiguration.Workers.Dispatch
    /// How many work messages may wait in the pool's queue beyond those running.
    public let backlog: Int

    private let logger: Logger
    private let current = Mutex(Current())

    private struct Current {
        var started = false
        var client: MQTTClient?
    }

    /// Prepares a worker; nothing is connected until ``run()``.
    ///
    /// - Parameters:
    ///   - pool: the handlers to serve and how many requests may run at once.
    ///   - mqtt: the broker, credentials and TLS. The client id, clean start, session expiry and
    ///     Will are set here.
    ///   - workerID: the id to use, which must match `[A-Za-z0-9_.-]{1,64}`
    ///     (``Topics/isValidID(_:)``); nil for one unique to this process
    ///     (``uniqueWorkerID()``). Two live workers must never share an id.
    ///   - topics: the topic conventions.
    ///   - presenceRefresh: how often presence is published again (QoS 0), to restore it after
    ///     the connection dropped and the Will cleared it; nil to publish it only at start.
    ///   - drainLimit: the longest a graceful shutdown waits for replies and the cleared
    ///     presence to be acknowledged (a broker that went away never acknowledges them).
    ///   - dispatch: `.shared` (default) subscribes the shared work topics and this worker's
    ///     own; `.direct` only its own, for bridges with `workers.dispatch: direct` on brokers
    ///     without shared subscriptions.
    ///   - backlog: how many work messages may wait in the pool's queue beyond those running,
    ///     to be taken earliest deadline first; `pool.concurrency` when nil.
    ///   - logger: where start, stop and per-message problems are logged.
    public init(
        pool: WorkerPool,
        mqtt: MQTTConfiguration,
        workerID: String? = nil,
        topics: Topics = .init(),
        presenceRefresh: Duration? = .seconds(15),
        drainLimit: Duration = .seconds(10),
        dispatch: CourierConfiguration.Workers.Dispatch = .shared,
        backlog: Int? = nil,
        logger: Logger
    ) {
        let workerID = workerID ?? Self.uniqueWorkerID()
        precondition(Topics.isValidID(workerID), "worker id \"\(workerID)\" does not match [A-Za-z0-9_.-]{1,64}")
        var configuration = mqtt
        configuration.clientID = workerID
        // With a durable session, mosquitto 2.0 keeps handing a dead member of a shared group its
        // share of the work, queued for a client that may never come back.
        configuration.cleanStart = true
        configuration.sessionExpiry = 0
        configuration.will = MQTTConfiguration.Will(
            topic: topics.presence(workerID), payload: Data(), qos: .atLeastOnce, retain: true
        )
        self.workerID = workerID
        self.pool = pool
        self.topics = topics
        self.mqttConfiguration = configuration
        self.presenceRefresh = presenceRefresh
        self.drainLimit = drainLimit
        self.dispatch = dispatch
        self.backlog = max(0, backlog ?? pool.concurrency)
        var logger = logger
        logger[metadataKey: "worker.id"] = "\(workerID)"
        self.logger = logger
    }

    /// The connection cancellations arrive on: the work connection's settings, its own client
    /// id, no Will.
    private var cancellationConfiguration: MQTTConfiguration {
        var configuration = mqttConfiguration
        configuration.clientID = "\(workerID)-cancellations"
        configuration.will = nil
        return configuration
    }

    /// The client of the current run; for tests (to cut its connection).
    var clientForTesting: MQTTClient? { current.withLock { $0.client } }

    /// Connects, serves until graceful shutdown or cancellation, then drains and disconnects.
    /// Throws when the broker refuses the connection or a subscription. Runs once per instance.
    public func run() async throws {
        // After a reconnect the Will has cleared presence: announce it again at once.
        let announcer = PresenceAnnouncer()
        let lifecycle = Lifecycle()
        let intake = WorkIntake(
            pool: pool, lifecycle: lifecycle, limit: pool.concurrency + backlog,
            overflowWait: mqttConfiguration.inboundOverflowWait, logger: logger
        )
        let client = MQTTClient(
            configuration: mqttConfiguration, logger: logger,
            onMessage: { intake.receive($0) }, onConnect: { announcer.announceAgain() }
        )
        intake.attach(client)
        // On its network thread: cancelling is a lock and a resume, it does not block.
        let listener = MQTTClient(configuration: cancellationConfiguration, logger: logger, onMessage: { [self] in cancel($0) })
        current.withLock { current in
            precondition(!current.started, "WorkerService.run() called twice")
            current.started = true
            current.client = client
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The only place the clients are shut down: once the run stops, or at once when the
            // run is cancelled, which also fails publishes waiting for a broker that is away.
            group.addTask {
                await withTaskCancellationHandler {
                    await lifecycle.waitUntilStopped()
                } onCancel: {
                    lifecycle.stop()
                }
                intake.close()
                await client.shutdown()
                await listener.shutdown()
            }

            let presence: WorkerPresence
            do {
                guard let started = try await start(client, listener, lifecycle) else {
                    logger.info("worker stopped before it connected")
                    return
                }
                presence = started
                announcer.set(client: client, topic: topics.presence(workerID), payload: started.encoded())
            } catch {
                let stoppedMeanwhile = lifecycle.phase == .stopped
                lifecycle.stop()
                // Shutdown or cancellation while starting is not a failure.
                if stoppedMeanwhile { return }
                throw error
            }
            logger.info(
                "worker started",
                metadata: [
                    "worker.operations": "\(pool.operations.joined(separator: ","))",
                    "worker.concurrency": "\(pool.concurrency)",
                ]
            )

            if await waitForShutdown(client, presence: presence) {
                announcer.stop()
                await drain(client, lifecycle)
            } else {
                lifecycle.stop()
            }
            try await group.waitForAll()
            let counters = pool.counters
            logger.info(
                "worker stopped",
                metadata: ["worker.ran": "\(counters.ran)", "worker.late": "\(counters.late)", "worker.cancelled": "\(counters.cancelled)"]
            )
        }
    }

    // MARK: Starting and stopping

    /// Connects, subscribes and announces presence. Returns nil when the run was stopped (a
    /// graceful shutdown or cancellation) before the broker answered.
    private func start(_ client: MQTTClient, _ listener: MQTTClient, _ lifecycle: Lifecycle) async throws -> WorkerPresence? {
        try await withGracefulShutdownHandler {
            try await client.connect()
            try await listener.connect()
        } onGracefulShutdown: {
            lifecycle.stopIfConnecting()
        }
        guard lifecycle.markServing() else { return nil }
        try await listener.subscribe(topics.cancellations, qos: .atLeastOnce)
        for filter in workFilters {
            try await client.subscribe(filter, qos: .atLeastOnce)
        }
        if pool.operations.isEmpty {
            logger.info("the worker pool has no operations: no work will arrive")
        }
        let presence = WorkerPresence(
            id: workerID, operations: pool.operations, concurrency: pool.concurrency, startedAt: Date()
        )
        try await publishPresence(presence, client, qos: .atLeastOnce)
        return presence
    }

    /// Waits for graceful shutdown (true) or cancellation (false), refreshing presence meanwhile.
    private func waitForShutdown(_ client: MQTTClient, presence: WorkerPresence) async -> Bool {
        guard let refresh = presenceRefresh else {
            do {
                try await gracefulShutdown()
                return true
            } catch {
                return false
            }
        }
        while true {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: refresh) }
            } catch {
                // The sleep ends early for a graceful shutdown and for cancellation alike.
                return !Task.isCancelled
            }
            // QoS 0: while the broker is away this fails at once instead of holding up shutdown;
            // the next refresh after the reconnect restores presence.
            do {
                try await publishPresence(presence, client, qos: .atMostOnce)
            } catch {
                logger.debug("presence refresh not sent", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Graceful shutdown: take no new work, answer what is in flight, clear presence, within
    /// ``drainLimit``. The client is shut down once this returns.
    private func drain(_ client: MQTTClient, _ lifecycle: Lifecycle) async {
        lifecycle.beginDraining()
        logger.info("worker stopping", metadata: ["worker.in_flight": "\(lifecycle.inFlight)"])
        // A broker that went away would hold the replies' and the presence's PUBACKs forever.
        let watchdog = Task { [logger, drainLimit] in
            try await Task.sleep(for: drainLimit)
            logger.warning("worker drain took too long, stopping now", metadata: ["worker.in_flight": "\(lifecycle.inFlight)"])
            lifecycle.stop()
            await client.shutdown()
        }
        defer { watchdog.cancel() }
        for filter in workFilters {
            do {
                try client.unsubscribe(filter)
            } catch {
                logger.debug("unsubscribe failed", metadata: ["mqtt.topic": "\(filter)", "error": "\(error)"])
            }
        }
        await lifecycle.waitUntilIdle()
        // Sent after the UNSUBSCRIBEs on the same connection: once the broker acknowledges it,
        // every work message it sent to this worker has been read off the socket.
        do {
            try await client.publish(topics.presence(workerID), payload: Data(), qos: .atLeastOnce, retain: true)
        } catch {
            logger.info("presence could not be cleared", metadata: ["error": "\(error)"])
        }
        // Answer what arrived before the broker took the unsubscribe, then refuse the rest.
        await lifecycle.stopWhenIdle()
    }

    /// The filters work arrives through: this worker's own topics, and the shared ones unless
    /// it takes direct dispatch only.
    private var workFilters: [String] {
        pool.operations.flatMap { operation in
            let own = topics.directWork(workerID: workerID, operation: operation)
            return dispatch == .shared ? [topics.workSubscription(operation), own] : [own]
        }
    }

    private func publishPresence(_ presence: WorkerPresence, _ client: MQTTClient, qos: MQTTQoS) async throws {
        try await client.publish(
            topics.presence(workerID),
            payload: presence.encoded(),
            qos: qos,
            retain: true,
            properties: MQTTProperties(contentType: JSONCoding.contentType, payloadFormatIndicator: 1)
        )
    }

    // MARK: Cancelling

    private func cancel(_ message: MQTTMessage) {
        guard let requestID = CancellationMessage.decode(message.payload) else {
            logger.info("cancellation ignored: not {\"id\":\"...\"}", metadata: ["mqtt.topic": "\(message.topic)"])
            return
        }
        logger.debug("cancellation", metadata: ["request.id": "\(requestID)"])
        pool.cancel(requestID: requestID)
    }
}
