import CourierCore
import CourierDevices
import CourierTesting
import Foundation
import MQTT
import Synchronization
import Testing

/// `courier devices` as a user runs it: devices on a configured topic layout answering
/// commands, with the command counts in the `--json` summary.
@Suite(.timeLimit(.minutes(2)))
struct DevicesCommandLineTests {
    @Test
    func theJSONSummaryCountsCommandsOnTheConfiguredLayout() async throws {
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-devices-cli-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let layout = ["command": "v1/{device}/cmd/{command}", "commandReplies": "v1/{device}/cmd-result/{command}"]
            let config = directory.appendingPathComponent("courier.yaml").path
            try Data(("topics:\n" + layout.map { "  \($0.key): \"\($0.value)\"\n" }.joined()).utf8).write(to: URL(fileURLWithPath: config))
            let prefix = "cli-\(UUID().uuidString.prefix(6))"
            let profile = directory.appendingPathComponent("p.yaml").path
            try Data("name: p\ndevices: { count: 1, idPrefix: \(prefix) }\ncommands:\n  - command: ping\nduration: 8s\n".utf8).write(to: URL(fileURLWithPath: profile))
            let ended = Atomic(false)
            let run = Task {
                defer { ended.store(true, ordering: .releasing) }
                return try await Command.run(CourierDaemon.binary, [
                    "devices", "--profile", profile, "--config", config, "--broker", broker.url, "--json", "--progress-every", "1s",
                ])
            }

            let topics = try Topics(templates: layout)
            let device = "\(prefix)-1"
            let backend = try await broker.connectedClient("backend")
            let inbox = MessageInbox.draining(backend)
            try await backend.subscribe(topics.commandReplyTopic(device: device, command: "ping"))
            var properties = MQTTProperties()
            properties.responseTopic = topics.commandReplyTopic(device: device, command: "ping")
            properties.correlationData = Data("k1".utf8)
            // Attempts of one command id until the device, once connected, answers, or its run
            // ends: on a loaded machine the process may take seconds to start and connect.
            var answers: [MQTTMessage] = []
            while answers.isEmpty, !ended.load(ordering: .acquiring) {
                try await backend.publish(topics.commandTopic(device: device, command: "ping"), payload: Data("hi".utf8), properties: properties)
                answers = (try? await inbox.wait(within: .milliseconds(200))) ?? []
            }
            #expect(answers.first?.topic == "v1/\(device)/cmd-result/ping")
            #expect(answers.first?.properties.userProperty("status") == "200")

            let result = try await run.value
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            let last = try #require(result.stdout.split(separator: "\n").last)
            let summary = try #require(try SimulatorJSONLine(decoding: last).summary)
            #expect(summary.commands.executed == 1)
            #expect(summary.commands.received == summary.commands.repeats + 1)
            #expect(summary.commands.answers["200"] == summary.commands.received)
            #expect(summary.isClean)
            await backend.shutdown()
        }
    }
}
