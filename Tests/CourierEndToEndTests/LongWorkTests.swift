import CourierProcess
import CourierTesting
import Foundation
import MQTT
import Testing

/// Long work through a real `courier bridge`, with the test as the worker: progress reaching
/// the device, the status JSON and an event stream read by `curl`; cancellation reaching the
/// worker.
@Suite(.timeLimit(.minutes(2)))
struct LongWorkTests {
    /// `curl -N` on a request's event stream, its output in a file the test can read while it
    /// runs; the process ends when the stream does.
    struct EventStreamReader {
        let process: ChildProcess
        let output: URL

        static func start(_ url: String, lastEventID: String? = nil, in directory: URL) throws -> EventStreamReader {
            let output = directory.appendingPathComponent("events-\(UUID().uuidString.prefix(6)).txt")
            let header = lastEventID.map { ["-H", "Last-Event-ID: \($0)"] } ?? []
            let process = try ChildProcess.spawn("/usr/bin/env", ["curl", "-s", "-N"] + header + [url], output: output.path)
            return EventStreamReader(process: process, output: output)
        }

        var text: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

        /// The event names in order.
        var events: [String] { text.split(separator: "\n").filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) } }

        func waitFor(_ event: String, count: Int = 1) async throws {
            try await eventually("\(count) '\(event)' events") { events.filter { $0 == event }.count >= count }
        }
    }

    /// Publishes a worker's interim reply to the bridge, as a worker in any language would.
    static func report(_ status: Int, percent: Int? = nil, _ text: String, to work: FakeWorker.Work, from worker: FakeWorker) async throws {
        var properties = [UserProperty("status", "\(status)")]
        if let percent { properties.append(UserProperty("progress", "\(percent)")) }
        try await worker.client.publish(
            work.message.properties.responseTopic ?? "", payload: Data(text.utf8),
            properties: .init(correlationData: work.requestID, contentType: "text/plain", userProperties: properties))
    }

    @Test func progressReachesTheDeviceTheStatusAndTheEventStreamThenTheResultEndsIt() async throws {
        try await BridgeFixture.with(policy: FakeWorker.silent) { fixture in
            let device = try await Device.connect("long-1", to: fixture.broker)
            try await device.ask("echo", Data("big job".utf8), correlation: "job")
            let work = try #require(try await fixture.worker.received.wait { $0.topic == "courier/work/echo" }.first.map(FakeWorker.Work.init))
            let id = String(decoding: work.requestID, as: UTF8.self)
            let api = try await fixture.api

            let stream = try EventStreamReader.start("\(api)/v1/requests/\(id)/events", in: fixture.directory)
            try await stream.waitFor("state")
            #expect(stream.text.contains("\"state\":\"dispatched\""), "\(stream.text)")

            try await Self.report(102, percent: 40, "reading", to: work, from: fixture.worker)
            let progress = try await device.reply(to: "job")
            #expect(progress.status == 102 && progress.text == "reading")
            #expect(progress.properties.userProperty("progress") == "40")
            try await stream.waitFor("progress")
            #expect(stream.text.contains("\"percent\":40"), "\(stream.text)")
            let status = try await Command.run("curl", ["-s", "\(api)/v1/requests/\(id)"])
            #expect(status.stdout.contains("\"progress\":{\"at\":") && status.stdout.contains("\"message\":\"reading\""), "\(status.stdout)")

            try await fixture.worker.reply(to: work, status: 200, payload: Data("done".utf8))
            let final = try await device.finalReply(to: "job")
            #expect(final.status == 200 && final.text == "done")
            #expect(await stream.process.wait() == 0, "the stream ends after the result")
            #expect(stream.events.last == "result")
            #expect(stream.text.contains("\"replyStatus\":200"), "\(stream.text)")
            // Progress never reaches the device after its final reply.
            #expect(device.replies.all.last?.status == 200)

            // A finished request: one result, then the end; a client that saw it gets nothing more.
            let again = try EventStreamReader.start("\(api)/v1/requests/\(id)/events", in: fixture.directory)
            #expect(await again.process.wait() == 0)
            #expect(again.events == ["result"], "\(again.text)")
            let resultID = try #require(again.text.firstMatch(of: /id: (\d+)/)?.1)
            let seen = try EventStreamReader.start("\(api)/v1/requests/\(id)/events", lastEventID: String(resultID), in: fixture.directory)
            #expect(await seen.process.wait() == 0)
            #expect(seen.events == ["result"], "the end is always told: \(seen.text)")
            await device.shutdown()
        }
    }

    /// A client whose stream broke with the bridge (SIGKILL) reconnects to the restarted bridge
    /// with `Last-Event-ID`: it gets only what is newer, and the result ends the stream.
    @Test func theEventStreamResumesWithLastEventIDAfterTheBridgeRestarts() async throws {
        try await BridgeFixture.with(policy: FakeWorker.silent) { fixture in
            let device = try await Device.connect("long-5", to: fixture.broker)
            try await device.ask("echo", Data("job".utf8), correlation: "resume")
            let work = try #require(try await fixture.worker.received.wait { $0.topic == "courier/work/echo" }.first.map(FakeWorker.Work.init))
            let id = String(decoding: work.requestID, as: UTF8.self)
            let api = try await fixture.api
            let first = try EventStreamReader.start("\(api)/v1/requests/\(id)/events", in: fixture.directory)
            try await first.waitFor("state")
            let seen = try #require(first.text.matches(of: /id: (\d+)/).last.map { Int64($0.1)! })

            await fixture.bridge.kill()
            _ = await first.process.wait()
            let restarted = try await fixture.restartBridge()
            let second = try EventStreamReader.start("\(try await restarted.httpAPI())/v1/requests/\(id)/events", lastEventID: "\(seen)", in: fixture.directory)
            try await fixture.worker.reply(to: work, status: 200, payload: Data("done".utf8))
            #expect(await second.process.wait() == 0)
            #expect(second.events.last == "result", "\(second.text)")
            let ids = second.text.matches(of: /id: (\d+)/).map { Int64($0.1)! }
            #expect(ids.allSatisfy { $0 > seen }, "nothing the client saw before: \(second.text)")
            #expect(try await device.finalReply(to: "resume").status == 200)
            await restarted.stop()
            await device.shutdown()
        }
    }

    /// Heartbeats (202) renew the attempt timer (echo's attempt timeout is 3 s): a handler
    /// still at it after 4 s keeps its one attempt, and its answer is the reply.
    @Test func heartbeatsKeepALongAttemptAlive() async throws {
        try await BridgeFixture.with(policy: FakeWorker.silent) { fixture in
            let device = try await Device.connect("long-4", to: fixture.broker)
            try await device.ask("echo", Data("long".utf8), correlation: "beat")
            let work = try #require(try await fixture.worker.received.wait { $0.topic == "courier/work/echo" }.first.map(FakeWorker.Work.init))
            let started = ContinuousClock.now
            while ContinuousClock.now - started < .seconds(4) {
                try await Self.report(202, "still at it", to: work, from: fixture.worker)
                try await Task.sleep(for: .milliseconds(500))
            }
            try await fixture.worker.reply(to: work, status: 200, payload: Data("done".utf8))
            let final = try await device.finalReply(to: "beat")
            #expect(final.status == 200 && final.text == "done")
            #expect(fixture.worker.received.on("courier/work/echo").count == 1, "the heartbeats kept the attempt alive")
            await device.shutdown()
        }
    }

    /// Progress faster than `progressInterval` (1 s): the device gets the first at once and
    /// then the latest, not every one.
    @Test func progressToTheDeviceIsThrottledAndTheLatestWins() async throws {
        try await BridgeFixture.with(policy: FakeWorker.silent) { fixture in
            let device = try await Device.connect("long-2", to: fixture.broker)
            try await device.ask("echo", Data("job".utf8), correlation: "fast")
            let work = try #require(try await fixture.worker.received.wait { $0.topic == "courier/work/echo" }.first.map(FakeWorker.Work.init))
            let burst = ContinuousClock.now
            for percent in stride(from: 10, through: 50, by: 10) {
                try await Self.report(102, percent: percent, "at \(percent)", to: work, from: fixture.worker)
            }
            let burstTook = ContinuousClock.now - burst
            try await eventually("the latest progress reaches the device") {
                device.replies.all.last { $0.status == 102 }?.text == "at 50"
            }
            try await fixture.worker.reply(to: work, status: 200, payload: Data("ok".utf8))
            _ = try await device.finalReply(to: "fast")
            let progress = device.replies.all.filter { $0.status == 102 }.map(\.text)
            #expect(progress.first == "at 10" && progress.last == "at 50")
            // Reports a second apart would all get through; these came within one.
            if burstTook < .milliseconds(900) { #expect(progress.count < 5, "\(progress)") }
            await device.shutdown()
        }
    }

    /// An operator's cancel: the device gets 410 and the worker is told on
    /// `courier/cancellations` with the bridge's request id; its late answer goes nowhere.
    @Test func aCancelTellsTheWorker() async throws {
        try await BridgeFixture.with(policy: FakeWorker.silent) { fixture in
            let cancellations = MessageInbox()
            let listener = try await fixture.broker.connectedClient("cancel-listener")
            try await listener.subscribe("courier/cancellations")
            let draining = Task { for await message in listener.messages { cancellations.append(message) } }
            let device = try await Device.connect("long-3", to: fixture.broker)
            try await device.ask("echo", Data("job".utf8), correlation: "stop")
            let work = try #require(try await fixture.worker.received.wait { $0.topic == "courier/work/echo" }.first.map(FakeWorker.Work.init))
            let id = String(decoding: work.requestID, as: UTF8.self)

            let cancelled = try await Command.run("curl", ["-s", "-X", "DELETE", "-o", "/dev/null", "-w", "%{http_code}", "\(try await fixture.api)/v1/requests/\(id)"])
            #expect(cancelled.stdout == "200")
            #expect(try await device.finalReply(to: "stop").status == 410)
            let told = try await cancellations.wait { _ in true }
            let body = try JSONSerialization.jsonObject(with: told[0].payload) as? [String: Any]
            #expect(body?["id"] as? String == id)

            try await fixture.worker.reply(to: work, status: 200, payload: Data("too late".utf8))
            // A request after it, answered: the late answer had its chance to arrive first.
            fixture.worker.setPolicy(FakeWorker.echo)
            try await device.ask("echo", Data("next".utf8), correlation: "after")
            #expect(try await device.finalReply(to: "after").status == 200)
            #expect(device.replies.all.filter { $0.properties.correlationData == Data("stop".utf8) }.map(\.status) == [410])
            draining.cancel()
            await listener.shutdown()
            await device.shutdown()
        }
    }
}

/// Devices cancelling their own requests over MQTT, through a real `courier bridge`.
@Suite(.timeLimit(.minutes(2)))
struct DeviceCancelTests {
    @Test func anMQTT5DeviceCancelsByCorrelationDataAndTheWorkerIsTold() async throws {
        try await BridgeFixture.with(policy: FakeWorker.silent) { fixture in
            let cancellations = try await fixture.broker.connectedClient("cancel-watch")
            let told = MessageInbox.draining(cancellations)
            try await cancellations.subscribe("courier/cancellations")
            let device = try await Device.connect("cancel-5", to: fixture.broker)
            let other = try await Device.connect("cancel-other", to: fixture.broker)
            try await device.ask("echo", Data("job".utf8), correlation: "mine")
            try await other.ask("echo", Data("job".utf8), correlation: "mine")
            try await fixture.worker.received.wait(for: 2) { $0.topic == "courier/work/echo" }

            // The other device's cancel names only its own request.
            try await other.client.publish("devices/cancel-other/cancel", payload: Data(), properties: .init(correlationData: Data("mine".utf8)))
            #expect(try await other.finalReply(to: "mine").status == 410)
            try await device.client.publish("devices/cancel-5/cancel", payload: Data(), properties: .init(correlationData: Data("mine".utf8)))
            let reply = try await device.finalReply(to: "mine")
            #expect(reply.status == 410 && reply.properties.userProperty("error") == "cancelled")
            let ids = try await told.wait(for: 2) { _ in true }.compactMap {
                (try? JSONSerialization.jsonObject(with: $0.payload) as? [String: Any])?["id"] as? String
            }
            let sent = fixture.worker.received.on("courier/work/echo").compactMap { $0.properties.correlationData.map { String(decoding: $0, as: UTF8.self) } }
            #expect(Set(ids) == Set(sent))
            await cancellations.shutdown()
            await device.shutdown()
            await other.shutdown()
        }
    }

    @Test func anMQTT311DeviceCancelsByTopic() async throws {
        try await BridgeFixture.with(policy: FakeWorker.silent) { fixture in
            let port = "\(fixture.broker.port)"
            let listener = Task {
                try await Command.run("mosquitto_sub", ["-p", port, "-V", "311", "-t", "devices/c311/replies/echo/r-9/+", "-C", "1", "-v", "-W", "20"])
            }
            let sent = try await Command.run("mosquitto_pub", ["-p", port, "-V", "311", "-q", "1", "-t", "devices/c311/requests/echo/r-9", "-m", "job"])
            #expect(sent.status == 0)
            try await fixture.worker.received.wait { $0.topic == "courier/work/echo" }
            let cancel = try await Command.run("mosquitto_pub", ["-p", port, "-V", "311", "-q", "1", "-t", "devices/c311/cancel/echo/r-9", "-n"])
            #expect(cancel.status == 0)
            let output = try await listener.value
            #expect(output.stdout.hasPrefix("devices/c311/replies/echo/r-9/410 "), "\(output.stdout)")
        }
    }
}
