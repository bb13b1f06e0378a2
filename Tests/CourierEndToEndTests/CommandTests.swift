import CourierTesting
import Foundation
import MQTT
import Testing

/// Commands to devices through a real `courier bridge`: submitted over HTTP (`curl`) or by a
/// backend over MQTT 5, answered by devices the test plays over MQTT 5 and 3.1.1.
@Suite(.timeLimit(.minutes(2)))
struct CommandTests {
    struct Fixture {
        let broker: MosquittoBroker
        let bridge: CourierDaemon
        let api: String

        static let commands = """
              - name: reboot
                timeout: 60s
                attemptTimeout: 20s
                maxAttempts: 3
              - name: retried
                timeout: 60s
                attemptTimeout: 1s
                maxAttempts: 50
              - name: short
                timeout: 1500ms
                attemptTimeout: 1500ms
                maxAttempts: 1
            """

        static func with(_ body: (Fixture) async throws -> Void) async throws {
            try await withBroker { broker in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-commands-\(UUID().uuidString)")
                let config = try writeCourierConfig(in: directory, broker: broker, commands: commands)
                let bridge = try await CourierDaemon.start(["bridge", "--config", config], readyLine: "bridge started", directory: directory)
                do {
                    try await body(Fixture(broker: broker, bridge: bridge, api: try await bridge.httpAPI()))
                } catch {
                    print("bridge log:\n\(bridge.log)")
                    await bridge.stop()
                    throw error
                }
                #expect(await bridge.stop() == 0)
                // Kept when the body failed, for the bridge's log.
                try? FileManager.default.removeItem(at: directory)
            }
        }

        /// `curl` with the status code as the last line.
        func http(_ method: String, _ path: String, body: String? = nil, headers: [String] = []) async throws -> (status: Int, body: String) {
            var arguments = ["-s", "-X", method, "-w", "\n%{http_code}"] + headers.flatMap { ["-H", $0] }
            if let body { arguments += ["--data-binary", body] }
            let output = try await Command.run("curl", arguments + [api + path])
            let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }

        /// Submits a command over HTTP; its id.
        func submit(_ command: String, to device: String, _ body: String, query: String = "") async throws -> String {
            let answer = try await http("POST", "/v1/devices/\(device)/commands/\(command)\(query)", body: body)
            #expect(answer.status == 202, "\(answer)")
            return try #require(answer.body.firstMatch(of: /"id":"([0-9a-f]+)"/)?.1).description
        }

        func result(_ id: String) async throws -> (status: Int, body: String) { try await http("GET", "/v1/requests/\(id)/result") }

        func finalResult(_ id: String, within limit: Duration = .seconds(15)) async throws -> (status: Int, body: String) {
            var answer = (status: 0, body: "")
            try await eventually("command \(id) final", within: limit) {
                answer = try await result(id)
                return answer.status != 202
            }
            return answer
        }
    }

    /// A device played by the test over MQTT 5: its commands arrive in `commands`.
    struct CommandDevice {
        let id: String
        let client: MQTTClient
        let commands: MessageInbox

        static func connect(_ id: String, to broker: MosquittoBroker, legacy: Bool = false, persistent: Bool = false) async throws -> CommandDevice {
            let client = try await broker.connectedClient(persistent ? "device-\(id)" : id) {
                if legacy { $0.protocolVersion = .v311 }
                if persistent {
                    $0.cleanStart = false
                    $0.sessionExpiry = 3600
                }
            }
            let commands = MessageInbox.draining(client)
            try await client.subscribe(legacy ? "devices/\(id)/commands/+/+" : "devices/\(id)/commands/+")
            return CommandDevice(id: id, client: client, commands: commands)
        }

        func answer(_ command: MQTTMessage, status: Int = 200, _ text: String, percent: Int? = nil) async throws {
            var properties = [UserProperty("status", "\(status)")]
            if let percent { properties.append(UserProperty("progress", "\(percent)")) }
            try await client.publish(
                command.properties.responseTopic ?? "", payload: Data(text.utf8),
                properties: .init(correlationData: command.properties.correlationData, contentType: "text/plain", userProperties: properties))
        }
    }

    @Test func anHTTPCommandReachesAnMQTT5DeviceAndItsAnswerIsTheResult() async throws {
        try await Fixture.with { fixture in
            let device = try await CommandDevice.connect("valve-1", to: fixture.broker)
            let id = try await fixture.submit("reboot", to: "valve-1", "now")
            let command = try #require(try await device.commands.wait(within: .seconds(30)) { _ in true }.first)
            #expect(command.topic == "devices/valve-1/commands/reboot")
            #expect(command.text == "now")
            #expect(command.properties.responseTopic == "devices/valve-1/command-replies/reboot")
            #expect(command.properties.correlationData == Data(id.utf8))
            #expect(command.properties.userProperty("courier-attempt") == "1")
            #expect(command.properties.messageExpiry.map { $0 > 0 && $0 <= 60 } == true)

            let status = try await fixture.http("GET", "/v1/requests/\(id)")
            #expect(status.body.contains("\"kind\":\"command\"") && status.body.contains("\"commandState\":\"sent\""), "\(status.body)")
            try await device.answer(command, status: 202, "")
            try await eventually("acknowledged") {
                try await fixture.http("GET", "/v1/requests/\(id)").body.contains("\"commandState\":\"acknowledged\"")
            }
            try await device.answer(command, "rebooting")
            let result = try await fixture.finalResult(id)
            #expect(result.status == 200 && result.body == "rebooting")
            let done = try await fixture.http("GET", "/v1/requests/\(id)")
            #expect(done.body.contains("\"commandState\":\"completed\""), "\(done.body)")
            await device.client.shutdown()
        }
    }

    @Test func aDeviceErrorIsTheCommandsFailure() async throws {
        try await Fixture.with { fixture in
            let device = try await CommandDevice.connect("valve-2", to: fixture.broker)
            let id = try await fixture.submit("reboot", to: "valve-2", "now")
            let command = try #require(try await device.commands.wait(within: .seconds(30)) { _ in true }.first)
            try await device.answer(command, status: 503, "{\"error\":{\"status\":503,\"code\":\"busy_motor\",\"message\":\"motor busy\"}}")
            let result = try await fixture.finalResult(id)
            #expect(result.status == 503 && result.body.contains("busy_motor"))
            #expect(try await fixture.http("GET", "/v1/requests/\(id)").body.contains("\"commandState\":\"failed\""))
            await device.client.shutdown()
        }
    }

    /// No answer to the first attempt: after `attemptTimeout` (1 s) the same command id comes
    /// again with the next attempt number; the device answers a later one.
    @Test func aLostAnswerIsRetriedWithTheSameCommandID() async throws {
        try await Fixture.with { fixture in
            let device = try await CommandDevice.connect("valve-3", to: fixture.broker)
            let id = try await fixture.submit("retried", to: "valve-3", "now")
            let attempts = try await device.commands.wait(for: 2, within: .seconds(30)) { _ in true }
            #expect(attempts.allSatisfy { $0.properties.correlationData == Data(id.utf8) })
            #expect(attempts.map { $0.properties.userProperty("courier-attempt") }.prefix(2) == ["1", "2"])
            try await device.answer(attempts[1], "second time")
            #expect(try await fixture.finalResult(id, within: .seconds(30)).body == "second time")
            await device.client.shutdown()
        }
    }

    /// A device away with a persistent session: the command waits at the broker and is
    /// answered once the device is back.
    @Test func anOfflineDeviceGetsItsCommandWhenItComesBack() async throws {
        try await Fixture.with { fixture in
            let away = try await CommandDevice.connect("valve-4", to: fixture.broker, persistent: true)
            await away.client.shutdown()
            let id = try await fixture.submit("reboot", to: "valve-4", "later")
            let back = try await CommandDevice.connect("valve-4", to: fixture.broker, persistent: true)
            let command = try #require(try await back.commands.wait(within: .seconds(30)) { _ in true }.first)
            #expect(command.properties.correlationData == Data(id.utf8))
            try await back.answer(command, "back")
            #expect(try await fixture.finalResult(id).body == "back")
            await back.client.shutdown()
        }
    }

    @Test func aCommandNobodyAnswersExpires504() async throws {
        try await Fixture.with { fixture in
            let id = try await fixture.submit("short", to: "nobody-home", "x")
            let result = try await fixture.finalResult(id)
            #expect(result.status == 504, "\(result)")
            #expect(try await fixture.http("GET", "/v1/requests/\(id)").body.contains("\"commandState\":\"expired\""))
        }
    }

    @Test func aCancelledCommandIs410AndTheDevicesLateAnswerIsIgnored() async throws {
        try await Fixture.with { fixture in
            let device = try await CommandDevice.connect("valve-5", to: fixture.broker)
            let id = try await fixture.submit("reboot", to: "valve-5", "now")
            let command = try #require(try await device.commands.wait(within: .seconds(30)) { _ in true }.first)
            #expect(try await fixture.http("DELETE", "/v1/requests/\(id)").status == 200)
            try await device.answer(command, "too late")
            let result = try await fixture.finalResult(id)
            #expect(result.status == 410)
            #expect(try await fixture.http("GET", "/v1/requests/\(id)").body.contains("\"commandState\":\"cancelled\""))
            await device.client.shutdown()
        }
    }

    /// Another device answering with this command's id on its own reply topic is ignored and
    /// counted; the right device's answer still counts.
    @Test func anotherDevicesAnswerIsIgnored() async throws {
        try await Fixture.with { fixture in
            let device = try await CommandDevice.connect("valve-6", to: fixture.broker)
            let intruder = try await fixture.broker.connectedClient("intruder")
            let id = try await fixture.submit("reboot", to: "valve-6", "now")
            let command = try #require(try await device.commands.wait(within: .seconds(30)) { _ in true }.first)
            try await intruder.publish(
                "devices/intruder/command-replies/reboot", payload: Data("hijacked".utf8),
                properties: .init(correlationData: Data(id.utf8), userProperties: [UserProperty("status", "200")]))
            try await eventually("the intruder's answer counted") {
                let metrics = try await fixture.http("GET", "/metrics").body
                return metrics.contains("courier_command_replies_ignored_total 1")
            }
            #expect(try await fixture.result(id).status == 202, "still waiting for its own device")
            try await device.answer(command, "mine")
            #expect(try await fixture.finalResult(id).body == "mine")
            await intruder.shutdown()
            await device.client.shutdown()
        }
    }

    /// A 3.1.1 device: the command id is a topic level, and so is the status of its answer.
    @Test func anMQTT311DeviceAnswersOnItsStatusTopic() async throws {
        try await Fixture.with { fixture in
            let device = try await CommandDevice.connect("legacy-1", to: fixture.broker, legacy: true)
            let id = try await fixture.submit("reboot", to: "legacy-1", "now", query: "?protocol=mqtt311")
            let command = try #require(try await device.commands.wait(within: .seconds(30)) { _ in true }.first)
            #expect(command.topic == "devices/legacy-1/commands/reboot/\(id)")
            try await device.client.publish("devices/legacy-1/command-replies/reboot/\(id)/200", payload: Data("done".utf8))
            #expect(try await fixture.finalResult(id).body == "done")
            await device.client.shutdown()
        }
    }

    /// A backend over MQTT 5: it publishes the command to `courier/commands/{device}/{command}`
    /// and gets the device's progress and final answer on its own Response Topic.
    @Test func aBackendSendsACommandOverMQTTAndGetsProgressAndTheAnswer() async throws {
        try await Fixture.with { fixture in
            let device = try await CommandDevice.connect("valve-7", to: fixture.broker)
            let backend = try await fixture.broker.connectedClient("backend-1")
            let answers = MessageInbox.draining(backend)
            try await backend.subscribe("backend/answers")
            try await backend.publish(
                "courier/commands/valve-7/reboot", payload: Data("now".utf8),
                properties: .init(responseTopic: "backend/answers", correlationData: Data("b-1".utf8)))
            let command = try #require(try await device.commands.wait(within: .seconds(30)) { _ in true }.first)
            try await device.answer(command, status: 102, "half", percent: 50)
            try await device.answer(command, "done")
            let received = try await answers.wait(for: 2) { _ in true }
            #expect(received.map(\.status) == [102, 200])
            #expect(received.allSatisfy { $0.properties.correlationData == Data("b-1".utf8) })
            #expect(received[0].properties.userProperty("progress") == "50" && received[1].text == "done")

            // Unconfigured: 404 on the backend's Response Topic.
            try await backend.publish(
                "courier/commands/valve-7/selfdestruct", payload: Data(),
                properties: .init(responseTopic: "backend/answers", correlationData: Data("b-2".utf8)))
            let refused = try await answers.wait { $0.properties.correlationData == Data("b-2".utf8) }
            #expect(refused.first?.status == 404)
            await backend.shutdown()
            await device.client.shutdown()
        }
    }

    @Test func anUnconfiguredCommandIs404OverHTTP() async throws {
        try await Fixture.with { fixture in
            let answer = try await fixture.http("POST", "/v1/devices/valve-8/commands/selfdestruct", body: "x")
            #expect(answer.status == 404 && answer.body.contains("unknown_operation"), "\(answer)")
        }
    }
}
