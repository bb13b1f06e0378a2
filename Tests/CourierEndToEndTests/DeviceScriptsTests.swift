import CourierTesting
import Foundation
import MQTT
import Testing

/// The hand-run examples in `Devices/scripts/`, run as a newcomer would against `courier serve`:
/// each must exit 0 and show the reply the contract promises.
@Suite(.timeLimit(.minutes(2)))
struct DeviceScriptsTests {
    static let scripts = ShippedConfig.directory.deletingLastPathComponent().appendingPathComponent("Devices/scripts")

    @Test
    func everyScriptGetsTheAnswerItShows() async throws {
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-scripts-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker, operations: """
                  - name: echo
                  - name: telemetry.summary
                    content: json
                  - name: telemetry.anomalies
                    content: json
                """)
            let serve = try await CourierDaemon.start(["serve", "--config", config], readyLine: "bridge started", directory: directory)
            func run(_ script: String) async throws -> String {
                let result = try await Command.run("/usr/bin/env", ["MQTT_PORT=\(broker.port)", "WAIT=10", "bash", Self.scripts.appendingPathComponent(script).path])
                #expect(result.status == 0, "\(script): \(result.stdout)\(result.stderr)")
                return result.stdout
            }

            #expect(try await run("echo-rr.sh").contains("[status:200]"))
            let summary = try await run("telemetry-summary.sh")
            #expect(summary.contains(#""mean":21.88"#) && summary.contains(#""count":5"#), "\(summary)")
            let anomalies = try await run("telemetry-anomalies.sh")
            #expect(anomalies.contains(#""anomalies":[{"index":7"#), "\(anomalies)")
            #expect(anomalies.contains("readings[1]: expected a number, found a string"), "\(anomalies)")
            #expect(try await run("legacy-311.sh").contains("devices/dev-1/replies/echo/r1/200 hello from an MQTT 3.1.1 device"))
            // The script's own dead-letter watch is best effort (it subscribes a second ahead);
            // this one is subscribed before the script starts.
            let watcher = try await broker.connectedClient("dead-letters")
            let letters = MessageInbox.draining(watcher)
            try await watcher.subscribe("courier/deadletters/#")
            let forbidden = try await run("forbidden-response-topic.sh")
            #expect(forbidden.contains("no reply on devices/dev-2/replies/echo, as expected"), "\(forbidden)")
            let letter = try await letters.first(on: "courier/deadletters/echo")
            #expect(letter.text.contains(#""reason":"forbidden_response_topic""#) && letter.text.contains(#""device":"dev-1""#), "\(letter.text)")
            await watcher.shutdown()
            #expect(await serve.stop() == 0)
        }
    }
}
