import CourierCore
import CourierDevices
import CourierTesting
import Foundation
import MQTT
import Synchronization
import Testing

/// Simulated devices answering commands, driven over the wire as the SPEC's bridge would drive
/// them (commands published by a test client to `devices/{device}/commands/...`) against a
/// real mosquitto.
@Suite(.timeLimit(.minutes(2)))
struct DeviceCommandTests {
    /// Devices that only answer commands, for a minute unless the test stops them sooner.
    static func actuators(_ convention: DeviceProfile.Convention, _ commands: [CommandHandler]) -> DeviceProfile {
        DeviceProfile(
            name: "actuator-test", convention: convention, deviceCount: 1, idPrefix: "act-\(UUID().uuidString.prefix(6))",
            operations: [], length: .duration(.seconds(60)), commands: commands
        )
    }

    /// Runs the simulator until `body` is done with its connected devices, then returns the report.
    static func running(
        _ profile: DeviceProfile, on broker: MosquittoBroker, _ body: @escaping @Sendable () async throws -> Void
    ) async throws -> SimulatorReport {
        var simulator = try Simulator(profile: profile, broker: broker.url, logger: .test("simulator"))
        simulator.progressInterval = .milliseconds(50)
        let connected = ChangeSignal()
        let ready = Mutex(false)
        let run = Task {
            try await simulator.run { progress in
                if progress.phase == .running, !ready.withLock({ $0 }) {
                    ready.withLock { $0 = true }
                    connected.notify()
                }
            }
        }
        try await connected.wait("devices connected", within: .seconds(20)) { ready.withLock { $0 } }
        do {
            try await body()
        } catch {
            run.cancel()
            throw error
        }
        run.cancel()
        return try await run.value
    }

    @Test
    func mqtt5DevicesAnswerOnTheResponseTopicWithStatusProgressAndTheSameCorrelation() async throws {
        try await withBroker { broker in
            let profile = Self.actuators(.mqtt5, [
                CommandHandler(command: "ping"),
                CommandHandler(command: "flash", delay: .milliseconds(100), progressSteps: 2, progressEvery: .milliseconds(50)),
                CommandHandler(command: "fail", answer: .json(#"{"reason":"jammed"}"#), status: 500),
            ])
            let device = profile.deviceID(0)
            let topics = Topics()
            let backend = try await broker.connectedClient("backend")
            let inbox = MessageInbox.draining(backend)
            try await backend.subscribe(topics.commandReplyTopic(device: device, command: "+"))
            @Sendable func send(_ command: String, _ payload: String, _ correlation: String) async throws {
                var properties = MQTTProperties()
                properties.responseTopic = topics.commandReplyTopic(device: device, command: command)
                properties.correlationData = Data(correlation.utf8)
                properties.contentType = "text/plain"
                properties.userProperties = [UserProperty("courier-attempt", "1")]
                try await backend.publish(topics.commandTopic(device: device, command: command), payload: Data(payload.utf8), properties: properties)
            }
            func answers(_ correlation: String) -> [MQTTMessage] {
                inbox.all.filter { $0.properties.correlationData == Data(correlation.utf8) }
            }

            let report = try await Self.running(profile, on: broker) {
                try await send("ping", "hello", "c1")
                try await send("flash", "fw-2", "c2")
                try await send("fail", "now", "c3")
                try await send("nope", "?", "c4")
                try await inbox.wait(for: 4, where: { $0.properties.userProperty("status") != "102" })
                try await inbox.wait(for: 2, where: { $0.properties.userProperty("status") == "102" })
                // A second attempt of c1: the same answer, not a second run.
                try await send("ping", "hello again", "c1")
                try await inbox.wait(for: 2) { $0.properties.correlationData == Data("c1".utf8) }
            }

            let ping = answers("c1")
            #expect(ping.map(\.topic) == Array(repeating: "devices/\(device)/command-replies/ping", count: 2))
            #expect(ping.map { $0.properties.userProperty("status") } == ["200", "200"])
            #expect(ping.map { String(decoding: $0.payload, as: UTF8.self) } == ["hello", "hello"])
            #expect(ping.first?.properties.contentType == "text/plain")
            let flash = answers("c2")
            #expect(flash.map { $0.properties.userProperty("status") } == ["102", "102", "200"])
            #expect(flash.map { $0.properties.userProperty("progress") } == ["33", "66", nil])
            let fail = answers("c3")
            #expect(fail.map { $0.properties.userProperty("status") } == ["500"])
            #expect(fail.first.map { String(decoding: $0.payload, as: UTF8.self) } == #"{"reason":"jammed"}"#)
            #expect(fail.first?.properties.contentType == "application/json")
            let unknown = answers("c4")
            #expect(unknown.map { $0.properties.userProperty("status") } == ["404"])
            #expect(unknown.first.map { String(decoding: $0.payload, as: UTF8.self).contains("unknown_command") } == true)

            #expect(report.commands.received == 5)
            #expect(report.commands.executed == 4)
            #expect(report.commands.repeats == 1)
            #expect(report.commands.answers == ["102": 2, "200": 3, "404": 1, "500": 1])
            #expect(report.isClean, "\(report.summary)")
            #expect(report.summary.contains("commands: received 5 (1 repeats), ran 4, answers 102: 2, 200: 3, 404: 1, 500: 1"), "\(report.summary)")
            await backend.shutdown()
        }
    }

    @Test
    func mqtt311DevicesAnswerOnTheTopicConventionAndRunEachCommandIdOnce() async throws {
        try await withBroker { broker in
            let profile = Self.actuators(.mqtt311, [CommandHandler(command: "reboot", answer: .text("rebooted"), delay: .milliseconds(500))])
            let device = profile.deviceID(0)
            let topics = Topics()
            let backend = try await broker.connectedClient("backend")
            let inbox = MessageInbox.draining(backend)
            try await backend.subscribe(topics.commandReplyTopic(device: device, command: "reboot") + "/#")
            let command = topics.commandTopic(device: device, command: "reboot", commandId: "k1")
            let report = try await Self.running(profile, on: broker) {
                // The second attempt comes while the first runs: 202, then one final answer.
                try await backend.publish(command, payload: Data("go".utf8))
                try await backend.publish(command, payload: Data("go".utf8))
                try await inbox.wait(for: 2)
                // A later attempt gets the stored answer.
                try await backend.publish(command, payload: Data("go".utf8))
                try await inbox.wait(for: 3)
            }
            let prefix = "devices/\(device)/command-replies/reboot/k1/"
            #expect(inbox.all.map(\.topic) == [prefix + "202", prefix + "200", prefix + "200"])
            #expect(inbox.all.map { String(decoding: $0.payload, as: UTF8.self) } == ["", "rebooted", "rebooted"])
            #expect(topics.parseCommandReply(prefix + "200") == ParsedCommandReplyTopic(device: device, command: "reboot", commandId: "k1", status: 200))
            #expect(report.commands.received == 3)
            #expect(report.commands.executed == 1)
            #expect(report.commands.repeats == 2)
            #expect(report.commands.answers == ["200": 2, "202": 1])
            await backend.shutdown()
        }
    }

    @Test
    func aDeviceThatGoesOfflineGetsWhatWasSentMeanwhileFromItsSession() async throws {
        try await withBroker { broker in
            let profile = Self.actuators(.mqtt5, [CommandHandler(command: "update", offline: .seconds(1)), CommandHandler(command: "ping")])
            let device = profile.deviceID(0)
            let topics = Topics()
            let backend = try await broker.connectedClient("backend")
            let inbox = MessageInbox.draining(backend)
            try await backend.subscribe(topics.commandReplyTopic(device: device, command: "+"))
            @Sendable func send(_ command: String, _ correlation: String, attempt: Int) async throws {
                var properties = MQTTProperties()
                properties.responseTopic = topics.commandReplyTopic(device: device, command: command)
                properties.correlationData = Data(correlation.utf8)
                properties.userProperties = [UserProperty("courier-attempt", "\(attempt)")]
                try await backend.publish(topics.commandTopic(device: device, command: command), payload: Data(correlation.utf8), properties: properties)
            }
            let report = try await Self.running(profile, on: broker) {
                try await send("update", "u1", attempt: 1)
                try await eventually("the device disconnected") { broker.log.contains("Client \(device) disconnected") }
                // Sent while it is away: a retry of u1, and a new command.
                try await send("update", "u1", attempt: 2)
                try await send("ping", "p1", attempt: 1)
                try await inbox.wait(for: 3, within: .seconds(15))
            }
            let statuses = { (correlation: String) in
                inbox.all.filter { $0.properties.correlationData == Data(correlation.utf8) }.map { $0.properties.userProperty("status") ?? "" }
            }
            // The retry finds u1 still running (202); u1 runs once.
            #expect(statuses("u1") == ["202", "200"])
            #expect(statuses("p1") == ["200"])
            #expect(report.commands.offline == 1)
            #expect(report.commands.executed == 2)
            #expect(report.commands.repeats == 1)
            #expect(report.reconnects == 1)
            await backend.shutdown()
        }
    }
}
