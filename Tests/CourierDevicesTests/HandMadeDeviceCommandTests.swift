import CourierCore
import CourierTesting
import Foundation
import MQTT
import Testing

/// The devices outside the simulator answering commands over the wire, as a bridge sends them:
/// `Devices/scripts/command-device.sh` (mosquitto_sub and mosquitto_pub) and the C device in
/// `Devices/c`, against a real mosquitto.
@Suite(.timeLimit(.minutes(2)))
struct HandMadeDeviceCommandTests {
    let topics = Topics()

    /// Sends attempts of one command (the same id each time, as the bridge retries) until the
    /// device answers: a device gives no sign of having subscribed.
    func command(_ client: MQTTClient, _ inbox: MessageInbox, device: String, _ name: String, id: String, payload: String) async throws -> MQTTMessage {
        var properties = MQTTProperties()
        properties.responseTopic = topics.commandReplyTopic(device: device, command: name)
        properties.correlationData = Data(id.utf8)
        for attempt in 1...50 {
            properties.userProperties = [UserProperty("courier-attempt", "\(attempt)")]
            try await client.publish(topics.commandTopic(device: device, command: name), payload: Data(payload.utf8), properties: properties)
            if let answer = try? await inbox.wait(within: .milliseconds(300), where: { $0.properties.correlationData == Data(id.utf8) }) {
                return answer[0]
            }
        }
        throw FixtureError.timeout("an answer to \(name) \(id)")
    }

    @Test
    func theScriptDeviceAnswersCommandsAndRepeatsWithoutRunningTwice() async throws {
        try await withBroker { broker in
            let device = "script-\(UUID().uuidString.prefix(6))"
            let backend = try await broker.connectedClient("backend")
            let inbox = MessageInbox.draining(backend)
            try await backend.subscribe(topics.commandReplyTopic(device: device, command: "+"))
            let script = DeviceProfileTests.repository.appendingPathComponent("Devices/scripts/command-device.sh").path
            async let run = Command.run("/usr/bin/env", ["MQTT_PORT=\(broker.port)", "DEVICE=\(device)", "COUNT=2", "bash", script])

            let first = try await command(backend, inbox, device: device, "reboot", id: "cmd-1", payload: "now")
            #expect(first.topic == "devices/\(device)/command-replies/reboot")
            #expect(first.properties.userProperty("status") == "200")
            #expect(String(decoding: first.payload, as: UTF8.self) == "now")
            // One more attempt of cmd-1, now that the device surely listens: a repeat.
            let isFirst: @Sendable (MQTTMessage) -> Bool = { $0.properties.correlationData == Data("cmd-1".utf8) }
            let answered = inbox.all.filter(isFirst).count
            var properties = MQTTProperties()
            properties.responseTopic = topics.commandReplyTopic(device: device, command: "reboot")
            properties.correlationData = Data("cmd-1".utf8)
            try await backend.publish(topics.commandTopic(device: device, command: "reboot"), payload: Data("now".utf8), properties: properties)
            try await inbox.wait(for: answered + 1, where: isFirst)
            let second = try await command(backend, inbox, device: device, "blink", id: "cmd-2", payload: "twice")
            #expect(second.properties.userProperty("status") == "200")

            let result = try await run
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("running reboot (cmd-1): now\nanswered reboot (cmd-1): 200"), "\(result.stdout)")
            #expect(result.stdout.contains("running blink (cmd-2): twice\nanswered blink (cmd-2): 200"), "\(result.stdout)")
            // Every attempt of cmd-1 after the first is a repeat, and gets the same answer.
            let repeats = result.stdout.components(separatedBy: "repeat of reboot (cmd-1): the same answer again, not a second run").count - 1
            #expect(repeats >= 1, "\(result.stdout)")
            #expect(result.stdout.components(separatedBy: "running reboot").count == 2, "\(result.stdout)")
            #expect(inbox.all.filter { $0.properties.correlationData == Data("cmd-1".utf8) }.count == repeats + 1)
            #expect(result.stderr.contains("+ mosquitto_pub -V mqttv5"), "the script shows what it runs")
            await backend.shutdown()
        }
    }

    @Test
    func theCDeviceAnswersOneCommand() async throws {
        let source = DeviceProfileTests.repository.appendingPathComponent("Devices/c/device.c").path
        let binary = FileManager.default.temporaryDirectory.appendingPathComponent("c-device-\(UUID().uuidString.prefix(6))").path
        let compiled = try await Command.run("cc", ["-Wall", "-Werror", "-o", binary, source, "-lmosquitto"])
        #expect(compiled.status == 0, "\(compiled.stderr)")
        try await withBroker { broker in
            let device = "c-\(UUID().uuidString.prefix(6))"
            let backend = try await broker.connectedClient("backend")
            let inbox = MessageInbox.draining(backend)
            try await backend.subscribe(topics.commandReplyTopic(device: device, command: "+"))
            async let run = Command.run(binary, ["-p", "\(broker.port)", "-d", device, "-c", "reboot"])
            let answer = try await command(backend, inbox, device: device, "reboot", id: "c-cmd-1", payload: "from C")
            #expect(answer.topic == "devices/\(device)/command-replies/reboot")
            #expect(answer.properties.userProperty("status") == "200")
            #expect(String(decoding: answer.payload, as: UTF8.self) == "from C")
            let result = try await run
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "reboot from C\n")
            await backend.shutdown()
        }
    }
}
