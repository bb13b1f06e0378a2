import CourierTesting
import Foundation
import MQTT
import Synchronization
import Testing

/// Every status code of the contract, from a real `courier bridge` process.
@Suite(.timeLimit(.minutes(2)))
struct BridgeStatusTests {
    @Test
    func statusCodesAsTheContractSays() async throws {
        try await BridgeFixture.with { fixture in
            let device = try await Device.connect("d-status", to: fixture.broker)

            try await device.ask("echo", Data("hello".utf8), correlation: "ok-1", properties: [.init("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")])
            let ok = try await device.reply(to: "ok-1")
            #expect(ok.status == 200 && ok.text == "hello")
            #expect(ok.properties.userProperty("traceparent") == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            #expect(ok.topic == device.replyTopic)

            try await device.ask("nope", Data(), correlation: "unknown")
            let unknown = try await device.reply(to: "unknown")
            #expect(unknown.status == 404 && unknown.errorCode == "unknown_operation")
            #expect(unknown.properties.contentType == "application/json")
            #expect(unknown.text.contains("\"status\":404"))

            try await device.ask("tiny", Data(repeating: 1, count: 17), correlation: "big")
            #expect(try await device.reply(to: "big").status == 413)

            try await device.ask("telemetry.summary", Data("{not json".utf8), correlation: "bad-json")
            let badJSON = try await device.reply(to: "bad-json")
            #expect(badJSON.status == 400 && badJSON.errorCode == "bad_request")

            try await device.ask("echo", Data(), correlation: String(repeating: "c", count: 65))
            #expect(try await device.reply(to: String(repeating: "c", count: 65)).status == 400)

            try await device.ask("acked", Data("later".utf8), correlation: "ack")
            let acked = try await device.replies(to: "ack", count: 2)
            #expect(acked.map(\.status) == [202, 200])

            try await device.ask("orphan", Data(), correlation: "orphan")
            let orphan = try await device.reply(to: "orphan")
            #expect(orphan.status == 503 && orphan.errorCode == "no_worker")

            let deadLetters = try await fixture.broker.connectedClient("dl")
            let letters = MessageInbox.draining(deadLetters)
            try await deadLetters.subscribe("courier/deadletters/#")
            try await device.ask("failing", Data("x".utf8), correlation: "fail")
            #expect(try await device.reply(to: "fail").status == 500)
            let letter = try await letters.first(on: "courier/deadletters/failing")
            #expect(letter.text.contains("\"reason\":\"worker_error\""))

            // slow: nobody answers; two attempts, then 504 at the latest at the deadline.
            try await device.ask("slow", Data("zzz".utf8), correlation: "slow")
            let timeout = try await device.reply(to: "slow")
            #expect(timeout.status == 504 && timeout.errorCode == "timeout")
            let attempts = fixture.worker.received.on("courier/work/slow").compactMap { $0.properties.userProperty("courier-attempt") }
            #expect(attempts == ["1", "2"])

            await deadLetters.shutdown()
            await device.shutdown()
        }
    }

    @Test
    func quotasAnswerBusyAndUnavailable() async throws {
        // The worker holds `hold` requests until told, so the quotas stay full however slow
        // the machine.
        let hold: FakeWorker.Policy = { $0.message.text == "hold" ? nil : BridgeFixture.policy($0) }
        try await BridgeFixture.with(limits: "  maxPendingPerDevice: 1\n  maxPendingTotal: 2", policy: hold) { fixture in
            let a = try await Device.connect("d-quota-a", to: fixture.broker)
            let b = try await Device.connect("d-quota-b", to: fixture.broker)
            let c = try await Device.connect("d-quota-c", to: fixture.broker)
            try await a.ask("echo", Data("hold".utf8), correlation: "a1")
            try await b.ask("echo", Data("hold".utf8), correlation: "b1")
            try await fixture.worker.received.wait(for: 2) { $0.topic == "courier/work/echo" }
            try await a.ask("echo", Data(), correlation: "a2")
            let busy = try await a.reply(to: "a2")
            #expect(busy.status == 429 && busy.errorCode == "busy")
            try await c.ask("echo", Data(), correlation: "c1")
            let shed = try await c.reply(to: "c1")
            #expect(shed.status == 503 && shed.errorCode == "unavailable")
            // Once the held ones are answered, there is room again.
            fixture.worker.setPolicy(FakeWorker.echo)
            try await fixture.worker.releaseHeld()
            #expect(try await a.reply(to: "a1").status == 200)
            #expect(try await b.reply(to: "b1").status == 200)
            try await c.ask("echo", Data("room".utf8), correlation: "c2")
            #expect(try await c.reply(to: "c2").status == 200)
            for device in [a, b, c] { await device.shutdown() }
        }
    }

    @Test
    func aForgedResponseTopicGetsNothingAndIsDeadLettered() async throws {
        try await BridgeFixture.with { fixture in
            let attacker = try await Device.connect("d-attacker", to: fixture.broker)
            let victim = try await Device.connect("d-victim", to: fixture.broker)
            let letters = try await fixture.broker.connectedClient("dl")
            let deadLetters = MessageInbox.draining(letters)
            try await letters.subscribe("courier/deadletters/#")

            try await attacker.ask("echo", Data("steal".utf8), correlation: "forged", responseTopic: "devices/d-victim/replies/rpc")
            let letter = try await deadLetters.first(on: "courier/deadletters/echo")
            #expect(letter.text.contains("forbidden_response_topic"))
            // A later request of the victim's is answered; the forged one never reached it.
            try await victim.ask("echo", Data("mine".utf8), correlation: "sentinel")
            _ = try await victim.reply(to: "sentinel")
            #expect(victim.replies.all.map(\.text) == ["mine"])
            #expect(attacker.replies.all.isEmpty)
            #expect(fixture.worker.received.all.allSatisfy { $0.payload != Data("steal".utf8) })
            await letters.shutdown()
            await attacker.shutdown()
            await victim.shutdown()
        }
    }

    @Test
    func duplicatesNeverReachAWorkerTwice() async throws {
        try await BridgeFixture.with(policy: FakeWorker.silent) { fixture in
            let device = try await Device.connect("d-dup", to: fixture.broker)
            try await device.ask("echo", Data("once".utf8), correlation: "dup")
            try await fixture.worker.received.wait { $0.topic == "courier/work/echo" }
            try await device.ask("echo", Data("once".utf8), correlation: "dup")
            let inProgress = try await device.reply(to: "dup")
            #expect(inProgress.status == 202)

            fixture.worker.setPolicy(FakeWorker.echo)
            try await fixture.worker.releaseHeld()
            let final = try await device.replies(to: "dup", count: 2)
            #expect(final.last?.status == 200 && final.last?.text == "once")

            try await device.ask("echo", Data("once".utf8), correlation: "dup")
            let again = try await device.replies(to: "dup", count: 3)
            #expect(again.last?.status == 200 && again.last?.text == "once")
            // One request reached the worker: every work message is an attempt of it (the
            // attempt timer may have sent it again on a slow machine), none a duplicate's.
            let requestIDs = Set(fixture.worker.received.on("courier/work/echo").map { $0.properties.correlationData })
            #expect(requestIDs.count == 1)
            await device.shutdown()
        }
    }

    @Test
    func anMQTT311DeviceUsesTheTopicConvention() async throws {
        try await BridgeFixture.with { fixture in
            let port = "\(fixture.broker.port)"
            let exited = ChangeSignal()
            let done = Flag()
            let subscriber = Task {
                defer {
                    done.set()
                    exited.notify()
                }
                return try await Command.run("mosquitto_sub", ["-p", port, "-V", "311", "-t", "devices/d311/replies/echo/r-1/+", "-C", "1", "-v", "-W", "30"])
            }
            // Sent again (a duplicate, answered from the store) until mosquitto_sub, which may
            // not have subscribed yet the first time, has its reply.
            try await eventually("reply arrives", within: .seconds(30)) {
                let sent = try await Command.run("mosquitto_pub", ["-p", port, "-V", "311", "-q", "1", "-t", "devices/d311/requests/echo/r-1", "-m", "legacy"])
                #expect(sent.status == 0)
                try? await exited.wait("reply", within: .seconds(2)) { done.isSet }
                return done.isSet
            }
            let output = try await subscriber.value
            #expect(output.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "devices/d311/replies/echo/r-1/200 legacy")
        }
    }

    @Test
    func aRequestsMessageExpiryShortensItsDeadline() async throws {
        try await BridgeFixture.with(policy: FakeWorker.silent) { fixture in
            let device = try await Device.connect("d-expiry", to: fixture.broker)
            let sent = Int64(Date().timeIntervalSince1970 * 1000)
            try await device.ask("echo", Data("hurry".utf8), correlation: "expiring", expiry: 2)
            let work = try await fixture.worker.received.first(on: "courier/work/echo")
            // echo's timeout is 10 s; the device allowed 2.
            let deadline = try #require(work.properties.userProperty("courier-deadline").flatMap(Int64.init))
            #expect(deadline - sent <= 2_500, "deadline \(deadline - sent) ms after sending")
            #expect((work.properties.messageExpiry ?? 99) <= 2)
            let reply = try await device.reply(to: "expiring")
            #expect(reply.status == 504 && reply.errorCode == "timeout")
            await device.shutdown()
        }
    }

    @Test
    func anMQTT311DuplicateGetsTheStoredReplyAndNeverReachesTheWorkerTwice() async throws {
        try await BridgeFixture.with { fixture in
            let device = try await fixture.broker.connectedClient("d311dup", protocolVersion: .v311)
            let replies = MessageInbox.draining(device)
            try await device.subscribe("devices/d311dup/replies/#")
            for sent in 1...2 {
                try await device.publish("devices/d311dup/requests/echo/same-id", payload: Data("once".utf8))
                try await replies.wait(for: sent)
            }
            #expect(replies.all.map(\.topic) == Array(repeating: "devices/d311dup/replies/echo/same-id/200", count: 2))
            #expect(replies.all.allSatisfy { $0.payload == Data("once".utf8) })
            #expect(fixture.worker.received.all.filter { $0.payload == Data("once".utf8) }.count == 1)
            await device.shutdown()
        }
    }
}

/// Set once, read from any task.
private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
