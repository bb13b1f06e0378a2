import CourierCore
import CourierTesting
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import CourierWorkers
@testable import MQTT

/// Presence, the Will, graceful shutdown, shared groups and the concurrency bound, against a
/// real broker.
@Suite(.timeLimit(.minutes(1)))
struct WorkerServiceLifecycleTests {
    @Test func presenceIsRetainedWhileServingAndClearedOnGracefulShutdown() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let pool = WorkerPool(handlers: BuiltinHandlers.all, concurrency: 3)
            let worker = makeWorker(broker, pool: pool)
            try await withWorkers([worker]) { group in
                let presence = try await bridge.awaitPresence(of: worker)
                #expect(presence.id == worker.workerID)
                #expect(presence.operations == ["echo", "telemetry.anomalies", "telemetry.summary"])
                #expect(presence.concurrency == 3)
                #expect(abs(presence.startedAt.timeIntervalSinceNow) < 60)

                // Retained: a client that subscribes later is told too.
                let late = try await broker.connectedClient("late")
                let lateInbox = MessageInbox.draining(late)
                try await late.subscribe(Topics().presenceFilter)
                let retained = try await lateInbox.first(on: Topics().presence(worker.workerID))
                #expect(retained.retain)
                #expect(WorkerPresence.decode(retained.payload) == presence)
                await late.shutdown()

                await group.triggerGracefulShutdown()
                try await bridge.awaitPresenceCleared(of: worker)
            }
            try await expectNoRetainedPresence(broker)
            await bridge.shutdown()
        }
    }

    @Test func theWillClearsPresenceWhenTheConnectionDiesAndARefreshRestoresIt() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let worker = makeWorker(
                broker, pool: WorkerPool(handlers: BuiltinHandlers.all, concurrency: 2), presenceRefresh: .milliseconds(200))
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                let client = try #require(worker.clientForTesting)
                client.breakConnectionForTesting()
                try await bridge.awaitPresenceCleared(of: worker)

                // The Will removed the retained presence; the worker reconnects and announces
                // itself again, and takes work again.
                let watcher = try await broker.connectedClient("watcher")
                let watcherInbox = MessageInbox.draining(watcher)
                try await watcher.subscribe(Topics().presence(worker.workerID))
                let restored = try await watcherInbox.wait(within: .seconds(15)) { !$0.payload.isEmpty }[0]
                #expect(WorkerPresence.decode(restored.payload)?.id == worker.workerID)
                await watcher.shutdown()

                let correlation = Data("after-reconnect".utf8)
                try await bridge.send("echo", "still here", correlation: correlation)
                #expect(try await bridge.reply(correlation).payload == Data("still here".utf8))
            }
            await bridge.shutdown()
        }
    }

    @Test func gracefulShutdownStopsTakingWorkAndFinishesWhatIsInFlight() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let recorder = Recorder()
            let pool = WorkerPool(handlers: [BlockingHandler(recorder: recorder), EchoHandler()], concurrency: 2)
            let worker = makeWorker(broker, pool: pool)
            try await withWorkers([worker]) { group in
                try await bridge.awaitPresence(of: worker)
                let slow = Data("slow".utf8)
                try await bridge.send("block", "slow work", correlation: slow)
                await recorder.waitUntil { $0.entered == 1 }

                await group.triggerGracefulShutdown()
                // The work filters go: the broker soon has nobody to give new work to.
                try await eventually("work filters unsubscribed") {
                    try await bridge.client.publish(Topics().workTopic("echo"), payload: Data()).reasonCode
                        == PublishAck.noMatchingSubscribers
                }
                try await eventually("block filter unsubscribed") {
                    try await bridge.client.publish(Topics().workTopic("block"), payload: Data()).reasonCode
                        == PublishAck.noMatchingSubscribers
                }
                // Presence stays while the slow request is still running.
                let presenceTopic = Topics().presence(worker.workerID)
                #expect(!bridge.inbox.on(presenceTopic).contains { $0.payload.isEmpty })
                #expect(bridge.replies.isEmpty)

                await recorder.release()
                let reply = try await bridge.reply(slow)
                #expect(reply.payload == Data("slow work".utf8))
                #expect(reply.properties.userProperty("status") == "200")
                try await bridge.awaitPresenceCleared(of: worker)

                // The reply went out before presence was cleared.
                let order = bridge.inbox.all.filter { $0.topic == TestBridge.replyTopic || ($0.topic == presenceTopic && $0.payload.isEmpty) }
                #expect(order.map(\.topic) == [TestBridge.replyTopic, presenceTopic])
            }
            #expect(pool.inFlight == 0)
            await bridge.shutdown()
        }
    }

    @Test func twoWorkersInOneSharedGroupSplitTheWorkAndAnswerEachItemOnce() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let first = Counter(), second = Counter()
            let workers = [
                makeWorker(broker, pool: WorkerPool(handlers: [CountingEcho(counter: first)], concurrency: 4)),
                makeWorker(broker, pool: WorkerPool(handlers: [CountingEcho(counter: second)], concurrency: 4)),
            ]
            #expect(workers[0].workerID != workers[1].workerID)
            try await withWorkers(workers) { _ in
                for worker in workers { try await bridge.awaitPresence(of: worker) }
                for index in 0..<20 {
                    try await bridge.send("echo", "item \(index)", correlation: Data("item-\(index)".utf8))
                }
                let replies = try await bridge.inbox.wait(for: 20) { $0.topic == TestBridge.replyTopic }
                #expect(Set(replies.compactMap(\.properties.correlationData)).count == 20)
                for reply in replies {
                    let index = String(decoding: reply.properties.correlationData ?? Data(), as: UTF8.self).dropFirst("item-".count)
                    #expect(reply.payload == Data("item \(index)".utf8))
                }
            }
            // Both stopped and drained: nothing more can come.
            #expect(bridge.replies.count == 20)
            #expect(first.value + second.value == 20)
            #expect(first.value > 0)
            #expect(second.value > 0)
            await bridge.shutdown()
        }
    }

    @Test func theWorkerHoldsNoMoreThanConcurrencyPlusBacklog() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let recorder = Recorder()
            let probe = PoolProbe()
            let pool = WorkerPool(handlers: [ProbingHandler(recorder: recorder, probe: probe)], concurrency: 2)
            probe.watch(pool)
            let worker = makeWorker(broker, pool: pool, backlog: 1)
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                for index in 0..<6 {
                    try await bridge.send("probe", "p\(index)", correlation: Data("p\(index)".utf8))
                }
                await recorder.waitUntil { $0.entered == 2 }
                // One more waits in the pool's queue; the other three are with the client or
                // the broker.
                await until { pool.waiting == 1 }
                for _ in 0..<6 { await recorder.release() }
                try await bridge.inbox.wait(for: 6) { $0.topic == TestBridge.replyTopic }
            }
            #expect(await recorder.snapshot.maxConcurrent == 2)
            #expect(probe.maxInFlight <= 3)
            #expect(probe.maxWaiting <= 1)
            await bridge.shutdown()
        }
    }

    @Test func aFullWorkerTakesMoreWorkOnlyAfterItsOverflowWait() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let recorder = Recorder()
            let pool = WorkerPool(handlers: [RecordingBlocker(recorder: recorder)], concurrency: 1)
            // Full with one running: the second waits with the client, at most 300 ms.
            let worker = makeWorker(broker, pool: pool, backlog: 0, overflowWait: .milliseconds(300))
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                let clock = ContinuousClock()
                try await bridge.send("block", "first", correlation: Data("first".utf8))
                await recorder.waitUntil { $0.entered == 1 }
                let sent = clock.now
                try await bridge.send("block", "second", correlation: Data("second".utf8))
                // Taken into the pool's queue once the wait is over, while "first" still runs:
                // the connection kept going meanwhile.
                await until { pool.waiting == 1 }
                #expect(clock.now - sent >= .milliseconds(300))
                #expect(pool.inFlight == 2)
                await recorder.release(2)
                try await bridge.inbox.wait(for: 2) { $0.topic == TestBridge.replyTopic }
            }
            #expect(await recorder.started == ["first", "second"])
            await bridge.shutdown()
        }
    }

    @Test func cancellationStopsTheServiceWithoutWaitingForWork() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let recorder = Recorder()
            let pool = WorkerPool(handlers: [SleepingHandler(recorder: recorder)], concurrency: 1)
            let worker = makeWorker(broker, pool: pool)
            let running = Task { try await worker.run() }
            try await bridge.awaitPresence(of: worker)
            try await bridge.send("sleep", "a minute of work", correlation: Data("long".utf8))
            await recorder.waitUntil { $0.entered == 1 }
            running.cancel()
            // The handler is cancelled and the client shut down: no minute-long wait.
            try await withTimeout(.seconds(10), "the cancelled worker stops") { try await running.value }
            try await withTimeout(.seconds(10), "the handler is cancelled") { await until { pool.inFlight == 0 } }
            #expect(pool.counters.cancelled == 1)
            #expect(await recorder.snapshot.finished == 0)
            await bridge.shutdown()
        }
    }

    @Test func cancellationWhileTheBrokerIsUnreachableStopsTheService() async throws {
        let port = try FreePort.allocate()
        var mqtt = MQTTConfiguration(host: "127.0.0.1", port: port, clientID: "unused")
        mqtt.reconnectDelay = 1...1
        let worker = WorkerService(
            pool: WorkerPool(handlers: BuiltinHandlers.all, concurrency: 1), mqtt: mqtt, logger: .test("worker"))
        let running = Task { try await worker.run() }
        try await eventually("the worker is trying to connect") { worker.clientForTesting != nil }
        running.cancel()
        try await withTimeout(.seconds(10), "the cancelled worker stops") { try await running.value }
    }

    @Test func gracefulShutdownAfterTheBrokerWentAwayStopsWithinTheDrainLimit() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            var mqtt = MQTTConfiguration(host: "127.0.0.1", port: broker.port, clientID: "set-by-the-service")
            mqtt.reconnectDelay = 1...1
            let worker = WorkerService(
                pool: WorkerPool(handlers: BuiltinHandlers.all, concurrency: 1), mqtt: mqtt,
                drainLimit: .seconds(1), logger: .test("worker"))
            let brokerGone = Mutex<ContinuousClock.Instant?>(nil)
            // Leaving the body shuts the worker down gracefully; clearing its presence is then a
            // QoS 1 publish that no broker will acknowledge.
            try await withTimeout(.seconds(20), "the worker stops") {
                try await withWorkers([worker]) { _ in
                    _ = try await bridge.awaitPresence(of: worker)
                    await bridge.shutdown()
                    await broker.stop()
                    brokerGone.withLock { $0 = .now }
                }
            }
            // The drain limit is 1 s; the rest is margin for a loaded machine, far below the
            // unbounded wait for a PUBACK that this guards against.
            let gone = try #require(brokerGone.withLock { $0 })
            #expect(ContinuousClock.now - gone < .seconds(6))
        }
    }

    @Test func gracefulShutdownWhileTheBrokerIsUnreachableStopsTheService() async throws {
        let port = try FreePort.allocate()
        var mqtt = MQTTConfiguration(host: "127.0.0.1", port: port, clientID: "unused")
        mqtt.reconnectDelay = 1...1
        let worker = WorkerService(
            pool: WorkerPool(handlers: BuiltinHandlers.all, concurrency: 1), mqtt: mqtt, logger: .test("worker"))
        // Bounded generously: on a loaded machine the point is that it stops, not how fast.
        try await withTimeout(.seconds(30), "the worker stops") {
            try await withWorkers([worker]) { _ in
                try await eventually("the worker is trying to connect") { worker.clientForTesting != nil }
            }
        }
    }
}

/// Checks that no presence is retained: a new subscriber gets retained messages before any live
/// one, so if a live marker arrives first there were none.
private func expectNoRetainedPresence(_ broker: MosquittoBroker) async throws {
    let client = try await broker.connectedClient("retained-check")
    let inbox = MessageInbox.draining(client)
    try await client.subscribe(Topics().presenceFilter)
    let marker = Topics().presence("marker")
    try await client.publish(marker, payload: Data("marker".utf8))
    _ = try await inbox.first(on: marker)
    #expect(inbox.all.map(\.topic) == [marker])
    await client.shutdown()
}

final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

/// `echo`, counting what it answers.
struct CountingEcho: OperationHandler {
    let operation = "echo"
    let counter: Counter

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        counter.increment()
        return HandlerResponse(payload: request.payload, contentType: request.contentType)
    }
}

/// Samples a pool's in-flight and waiting counts each time a handler starts.
final class PoolProbe: Sendable {
    private struct State {
        var pool: WorkerPool?
        var maxInFlight = 0
        var maxWaiting = 0
    }

    private let state = Mutex(State())

    func watch(_ pool: WorkerPool) { state.withLock { $0.pool = pool } }

    func sample() {
        state.withLock { state in
            guard let pool = state.pool else { return }
            state.maxInFlight = max(state.maxInFlight, pool.inFlight)
            state.maxWaiting = max(state.maxWaiting, pool.waiting)
        }
    }

    var maxInFlight: Int { state.withLock { $0.maxInFlight } }
    var maxWaiting: Int { state.withLock { $0.maxWaiting } }
}

/// A blocking handler that samples the pool as it starts.
struct ProbingHandler: OperationHandler {
    let operation = "probe"
    let recorder: Recorder
    let probe: PoolProbe

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        probe.sample()
        await recorder.enter()
        await recorder.awaitRelease()
        await recorder.leave()
        return HandlerResponse(payload: request.payload)
    }
}

/// Works for a minute unless cancelled.
struct SleepingHandler: OperationHandler {
    let operation = "sleep"
    let recorder: Recorder

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        await recorder.enter()
        try await Task.sleep(for: .seconds(60))
        await recorder.leave()
        return HandlerResponse(payload: request.payload)
    }
}
