import CourierCore
import CourierTesting
import Foundation
import MQTT
import Testing

@testable import CourierWorkers

/// Progress, heartbeats, cancellation and direct work topics through a real broker, the test
/// playing the bridge.
@Suite(.timeLimit(.minutes(1)))
struct WorkerServiceLongWorkTests {
    @Test func progressAndHeartbeatsReachTheResponseTopicBeforeTheAnswer() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let worker = makeWorker(broker, pool: WorkerPool(handlers: [ReportingHandler(leaked: Shared(nil))], concurrency: 2))
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                let correlation = Data("long-1".utf8)
                try await bridge.send("report", "", correlation: correlation)
                _ = try await bridge.reply(correlation) { $0.properties.userProperty("status") == "200" }
                let replies = bridge.replies.filter { $0.properties.correlationData == correlation }
                #expect(replies.map { $0.properties.userProperty("status") } == ["102", "202", "102", "102", "200"])
                #expect(replies.map { $0.properties.userProperty("progress") } == ["0", nil, "100", nil, nil])
                #expect(replies[0].payload == Data("starting".utf8))
                #expect(replies[0].properties.contentType == "text/plain; charset=utf-8")
                #expect(replies[2].payload == Data(#"{"step":2}"#.utf8))
                #expect(replies[2].properties.contentType == "application/json")
                #expect(replies.allSatisfy { $0.qos == .atLeastOnce })
                // What the bridge reads.
                let decoded = replies.compactMap(WorkMessage.decodeResult)
                #expect(decoded.map(\.progress) == [0, nil, 100, nil, nil])
                #expect(decoded.map(\.isFinal) == [false, false, false, false, true])
                #expect(decoded.last?.result.payload == Data("done".utf8))
            }
            await bridge.shutdown()
        }
    }

    @Test func aCancellationCancelsTheHandlerAndNoAnswerIsPublished() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let recorder = Recorder()
            let pool = WorkerPool(handlers: [CancellableHandler(recorder: recorder)] + BuiltinHandlers.all, concurrency: 2)
            let worker = makeWorker(broker, pool: pool)
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                let correlation = Data("req-cancel".utf8)
                try await bridge.send("wait", "", correlation: correlation)
                await recorder.waitUntil { $0.events.contains("started") }
                // Malformed and foreign cancellations change nothing.
                for payload in ["not json", #"{"id":"someone-else"}"#, #"{"id":"req-cancel"}"#] {
                    try await bridge.client.publish(Topics().cancellations, payload: Data(payload.utf8))
                }
                await recorder.waitUntil { $0.events.contains("cancelled") }
                // The worker goes on serving; its answer to a later request comes after any
                // answer to the cancelled one would have.
                try await bridge.send("echo", "after", correlation: Data("after".utf8))
                _ = try await bridge.reply(Data("after".utf8))
                #expect(bridge.replies.allSatisfy { $0.properties.correlationData != correlation })
                #expect(pool.counters.cancelled == 1)
            }
            await bridge.shutdown()
        }
    }

    @Test func aCancellationIsHeardWhileTheWorkerReadsNoMoreWork() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let recorder = Recorder()
            let pool = WorkerPool(handlers: [CancellableHandler(recorder: recorder)], concurrency: 1)
            // One slot, no backlog: with r-1 running the worker reads nothing more.
            let worker = makeWorker(broker, pool: pool, backlog: 0)
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                try await bridge.send("wait", "", correlation: Data("r-1".utf8))
                await recorder.waitUntil { $0.events == ["started"] }
                try await bridge.send("wait", "", correlation: Data("r-2".utf8))
                try await bridge.send("wait", "", correlation: Data("r-3".utf8))
                try await bridge.client.publish(Topics().cancellations, payload: CancellationMessage.encode(requestID: "r-1"))
                await recorder.waitUntil { $0.events == ["started", "cancelled", "started"] }
                for id in ["r-2", "r-3"] {
                    try await bridge.client.publish(Topics().cancellations, payload: CancellationMessage.encode(requestID: id))
                }
                // r-3 was still on its way when its cancellation came: it never runs.
                await until { pool.counters.cancelled == 3 }
                await recorder.waitUntil { $0.events == ["started", "cancelled", "started", "cancelled"] }
            }
            #expect(bridge.replies.isEmpty)
            await bridge.shutdown()
        }
    }

    @Test func aCancellationTakesWaitingWorkOutOfTheQueue() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let recorder = Recorder()
            let pool = WorkerPool(handlers: [RecordingBlocker(recorder: recorder)], concurrency: 1)
            let worker = makeWorker(broker, pool: pool, backlog: 4)
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                for name in ["running", "queued", "next"] {
                    try await bridge.send("block", name, correlation: Data(name.utf8))
                }
                await until { pool.waiting == 2 }
                try await bridge.client.publish(Topics().cancellations, payload: CancellationMessage.encode(requestID: "queued"))
                await until { pool.waiting == 1 }
                await recorder.release(2)
                _ = try await bridge.reply(Data("next".utf8))
                #expect(await recorder.started == ["running", "next"])
                #expect(bridge.replies.compactMap(\.properties.correlationData) == [Data("running".utf8), Data("next".utf8)])
            }
            await bridge.shutdown()
        }
    }

    @Test func aDirectWorkerTakesWorkOnItsOwnTopicOnly() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let worker = makeWorker(broker, pool: WorkerPool(handlers: BuiltinHandlers.all, concurrency: 2), dispatch: .direct)
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                let topics = Topics()
                // Nobody subscribes the shared work topic.
                let shared = try await bridge.send("echo", "shared", correlation: Data("shared".utf8))
                #expect(!shared.isDelivered)
                var properties = TestBridge.workProperties(correlation: Data("direct".utf8), operation: "echo")
                properties.contentType = "text/plain"
                let direct = try await bridge.client.publish(
                    topics.directWork(workerID: worker.workerID, operation: "echo"), payload: Data("direct".utf8), properties: properties)
                #expect(direct.isDelivered)
                let reply = try await bridge.reply(Data("direct".utf8))
                #expect(reply.payload == Data("direct".utf8))
                #expect(reply.properties.userProperty("status") == "200")
            }
            await bridge.shutdown()
        }
    }

    @Test func aSharedWorkerTakesDirectWorkToo() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let worker = makeWorker(broker, pool: WorkerPool(handlers: BuiltinHandlers.all, concurrency: 2))
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                let properties = TestBridge.workProperties(correlation: Data("direct".utf8), operation: "echo")
                try await bridge.client.publish(
                    Topics().directWork(workerID: worker.workerID, operation: "echo"), payload: Data("direct".utf8), properties: properties)
                #expect(try await bridge.reply(Data("direct".utf8)).payload == Data("direct".utf8))
                try await bridge.send("echo", "shared", correlation: Data("shared".utf8))
                #expect(try await bridge.reply(Data("shared".utf8)).payload == Data("shared".utf8))
            }
            await bridge.shutdown()
        }
    }
}
