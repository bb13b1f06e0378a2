import CourierTesting
import Foundation
import GRDB
import MQTT
import Testing

/// What a bridge owes across a stop and a start, and answers that do not depend on a worker.
@Suite(.timeLimit(.minutes(2)))
struct BridgeRestartTests {
    @Test
    func requestsPublishedWhileTheBridgeIsStoppedAreServedAfterItStarts() async throws {
        try await BridgeFixture.with { fixture in
            let device = try await Device.connect("d-planned", to: fixture.broker)
            await fixture.bridge.stop()
            // The bridge's durable session keeps its intake subscription: the broker holds the
            // request. A restarted bridge reads it before the workers' retained presence.
            let ack = try await device.ask("echo", Data("while down".utf8), correlation: "down")
            #expect(ack.isDelivered)
            let restarted = try await fixture.restartBridge()
            let reply = try await device.reply(to: "down")
            #expect(reply.status == 200 && reply.text == "while down")
            await restarted.stop()
            await device.shutdown()
        }
    }

    @Test
    func aDuplicateGetsTheStoredReplyWhenNoWorkerIsLeft() async throws {
        try await BridgeFixture.with { fixture in
            let device = try await Device.connect("d-dup-alone", to: fixture.broker)
            try await device.ask("echo", Data("once".utf8), correlation: "dup")
            #expect(try await device.reply(to: "dup").status == 200)
            await fixture.worker.stop()
            try await eventually("the bridge knows the worker is gone") {
                let probe = "probe-\(UUID().uuidString.prefix(6))"
                try await device.ask("echo", Data(), correlation: probe)
                return try await device.reply(to: probe).errorCode == "no_worker"
            }
            try await device.ask("echo", Data("once".utf8), correlation: "dup")
            let again = try await device.replies(to: "dup", count: 2)
            #expect(again.last?.status == 200 && again.last?.text == "once")
            await device.shutdown()
        }
    }

    @Test
    func aWorkersOwnStatusAndErrorCodeReachTheDevice() async throws {
        try await BridgeFixture.with(policy: FakeWorker.silent) { fixture in
            let device = try await Device.connect("d-conflict", to: fixture.broker)
            try await device.ask("echo", Data("x".utf8), correlation: "conflict")
            let work = try await fixture.worker.received.first(on: "courier/work/echo")
            let body = Data("{\"error\":{\"status\":409,\"code\":\"conflict\",\"message\":\"version mismatch\"}}".utf8)
            try await fixture.worker.reply(to: .init(message: work), status: 409, payload: body, error: "conflict")
            let reply = try await device.reply(to: "conflict")
            #expect(reply.status == 409 && reply.errorCode == "conflict" && reply.payload == body)
            await device.shutdown()
        }
    }

    @Test
    func aFinalReplyToAnMQTT311DeviceIsPublishedAgainIfItWasNeverAcknowledged() async throws {
        try await BridgeFixture.with { fixture in
            let device = try await fixture.broker.connectedClient("d311r", protocolVersion: .v311)
            let replies = MessageInbox.draining(device)
            let replyTopic = "devices/d311r/replies/echo/q-1/200"
            try await device.subscribe("devices/d311r/replies/#")
            try await device.publish("devices/d311r/requests/echo/q-1", payload: Data("again".utf8))
            #expect(try await replies.first(on: replyTopic).payload == Data("again".utf8))
            await fixture.bridge.stop()

            // As if the bridge had died between storing the reply and its PUBACK.
            let store = try DatabaseQueue(path: fixture.directory.appendingPathComponent("courier.sqlite").path)
            let cleared = try await store.write { db in
                try db.execute(sql: "UPDATE requests SET deliveredAt = NULL, state = 'completed' WHERE device = 'd311r'")
                return db.changesCount
            }
            #expect(cleared == 1)
            try store.close()

            let restarted = try await fixture.restartBridge()
            try await replies.wait(for: 2, within: .seconds(20)) { $0.topic == replyTopic }
            #expect(replies.on(replyTopic).map(\.payload) == [Data("again".utf8), Data("again".utf8)])
            await restarted.stop()
            await device.shutdown()
        }
    }
}
