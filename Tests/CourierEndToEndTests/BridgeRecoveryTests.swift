import CourierTesting
import Foundation
import MQTT
import Testing

/// The guarantees under crashes: a killed bridge, a restarted broker, a killed worker.
@Suite(.timeLimit(.minutes(3)))
struct BridgeRecoveryTests {
    @Test
    func aKilledBridgeAnswersEveryAcceptedRequestExactlyOnceAfterRestart() async throws {
        try await BridgeFixture.with(limits: "  maxPendingPerDevice: 200", operations: BridgeFixture.unhurried, policy: FakeWorker.silent) { fixture in
            let device = try await Device.connect("d-crash", to: fixture.broker)
            let count = 100
            for index in 0..<count {
                // A PUBACK means the bridge recorded the request.
                let ack = try await device.ask("echo", Data("r\(index)".utf8), correlation: "c\(index)")
                #expect(ack.isDelivered)
            }
            try await fixture.worker.received.wait(for: count) { $0.topic == "courier/work/echo" }
            await fixture.bridge.kill()

            // The worker answers while the bridge is down: the replies wait in its durable session.
            fixture.worker.setPolicy(FakeWorker.echo)
            try await fixture.worker.releaseHeld()
            let restarted = try await fixture.restartBridge()
            for index in 0..<count {
                // A request the broker redelivers to the restarted bridge may first get a 202
                // (the original is still in progress) before the final reply.
                let reply = try await device.finalReply(to: "c\(index)", within: .seconds(30))
                #expect(reply.status == 200 && reply.text == "r\(index)", "\(reply.status ?? 0) \(reply.text)")
            }
            // Anything answered again would arrive before a later request's reply. The broker
            // may redeliver requests whose PUBACK the killed bridge never wrote: those are
            // duplicates and get the stored reply again, never a different one.
            try await device.ask("echo", Data("sentinel".utf8), correlation: "sentinel")
            _ = try await device.finalReply(to: "sentinel")
            let finals = Dictionary(grouping: device.replies.all.filter { $0.status != 202 }) { $0.properties.correlationData ?? Data() }
            #expect(finals.count == count + 1)
            for (_, replies) in finals {
                #expect(Set(replies.map { "\($0.status ?? 0) \($0.text)" }).count == 1)
            }
            // And no attempt reached the worker twice (on a loaded machine an attempt may time
            // out and be retried: that is attempt 2, not the same one again).
            let attempts = fixture.worker.received.all.map { FakeWorker.Work(message: $0) }.map { "\($0.message.text) \($0.attempt)" }
            #expect(Set(attempts).count == attempts.count)
            await restarted.stop()
            await device.shutdown()
        }
    }

    @Test
    func serviceResumesAfterABrokerRestartAndARequestPendingAcrossItIsAnswered() async throws {
        try await BridgeFixture.with(policy: FakeWorker.silent) { fixture in
            let device = try await Device.connect("d-broker", to: fixture.broker)
            try await device.ask("echo", Data("across".utf8), correlation: "across")
            try await fixture.worker.received.wait { $0.topic == "courier/work/echo" }
            await fixture.broker.stop()
            try await fixture.broker.restart()
            try await eventually("device reconnected") { device.client.isConnected }
            try await eventually("worker reconnected") { fixture.worker.client.isConnected }
            // The worker answers what it held (and any retry) once the broker is back.
            fixture.worker.setPolicy(FakeWorker.echo)
            try await fixture.worker.releaseHeld()
            let across = try await device.reply(to: "across", within: .seconds(20))
            #expect(across.status == 200 && across.text == "across")
            try await eventually("bridge serves again", within: .seconds(20)) {
                try await device.ask("echo", Data("after".utf8), correlation: "after-\(UUID().uuidString.prefix(4))")
                return device.replies.all.contains { $0.text == "after" && $0.status == 200 }
            }
            #expect(device.replies.all.filter { $0.text == "across" }.count == 1)
            await device.shutdown()
        }
    }

    @Test
    func aKilledCourierWorkerHoldingRequestsIsReplacedByTheOtherWithinTheDeadline() async throws {
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-kill-\(UUID().uuidString)")
            let config = try writeQuickRetryConfig(in: directory, broker: broker)
            let bridge = try await CourierDaemon.start(["bridge", "--config", config], readyLine: "bridge started", directory: directory)
            let doomed = try await CourierDaemon.start(["worker", "--config", config, "--worker-id", "doomed"], readyLine: "worker started", directory: directory)
            let survivor = try await CourierDaemon.start(["worker", "--config", config, "--worker-id", "survivor"], readyLine: "worker started", directory: directory)
            // Frozen, the doomed worker still holds its share of the shared subscription (the
            // broker hands the group's members work in turn); then it dies holding it.
            doomed.signal(SIGSTOP)
            // Sees every attempt the bridge publishes, beside the workers' shared subscription.
            let watcher = try await broker.connectedClient("work-watcher")
            let work = MessageInbox.draining(watcher)
            try await watcher.subscribe("courier/work/#")
            let device = try await Device.connect("d-kill", to: broker)
            for index in 0..<4 {
                try await device.ask("echo", Data("k\(index)".utf8), correlation: "k\(index)")
            }
            // Killed only once the broker has handed out the first attempts: killed earlier,
            // it held nothing, the survivor took all four, and there was no retry to see.
            _ = try await work.wait(for: 4) { $0.topic == "courier/work/echo" }
            await doomed.kill()
            for index in 0..<4 {
                let reply = try await device.reply(to: "k\(index)")
                #expect(reply.status == 200 && reply.text == "k\(index)")
            }
            #expect(device.replies.all.count == 4)
            // The ones the doomed worker held were answered by a later attempt (the second, or
            // a third when the broker handed the second to the frozen worker too).
            // Log lines are written in batches, a few milliseconds after the replies.
            let outcomes = try await bridge.waitForLines(4) { $0.contains("request finished") && $0.contains("d-kill") }
            #expect(outcomes.contains { !$0.contains("attempts=1 ") && !$0.hasSuffix("attempts=1") }, "\(outcomes)")
            await device.shutdown()
            await watcher.shutdown()
            #expect(await survivor.stop() == 0)
            await bridge.stop()
        }
    }
}
