import CourierTesting
import Foundation
import MQTT
import Testing

/// The bridge's logs: one logfmt info line per request outcome, and `--log-level`.
@Suite(.timeLimit(.minutes(2)))
struct LogLineTests {
    @Test
    func everyOutcomeIsOneParsableInfoLine() async throws {
        try await BridgeFixture.with { fixture in
            let device = try await Device.connect("d-logs", to: fixture.broker)
            try await device.ask("echo", Data("hi".utf8), correlation: "fine")
            #expect(try await device.reply(to: "fine").status == 200)
            try await device.ask("telemetry.summary", Data("{oops".utf8), correlation: "bad")
            #expect(try await device.reply(to: "bad").status == 400)

            var outcomes: [[String: String]] = []
            try await eventually("both outcomes logged") {
                outcomes = fixture.bridge.log.split(separator: "\n").map { Self.logfmt(String($0)) }
                    .filter { $0["msg"] == "request finished" && $0["device.id"] == "d-logs" }
                return outcomes.count == 2
            }
            let fine = try #require(outcomes.first { $0["status"] == "200" })
            #expect(fine["level"] == "info" && fine["operation"] == "echo" && fine["attempts"] == "1")
            #expect(fine["request.id"]?.count == 44 && fine["duration_ms"].flatMap(Int.init) != nil)
            let bad = try #require(outcomes.first { $0["status"] == "400" })
            #expect(bad["operation"] == "telemetry.summary" && bad["error.code"] == "bad_request")
            #expect(bad["error.message"]?.contains("not valid JSON") == true, "\(bad)")
            // The default level is info: no debug lines.
            #expect(!fixture.bridge.log.contains("level=debug"))
            await device.shutdown()
        }
    }

    @Test
    func logLevelDebugShowsTheEventLoop() async throws {
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-logs-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker)
            let bridge = try await CourierDaemon.start(["bridge", "--config", config, "--log-level", "debug"], readyLine: "bridge started", directory: directory)
            #expect(bridge.log.contains(#"level=debug logger=courier msg="event loop started""#), "\(bridge.log)")
            #expect(await bridge.stop() == 0)
        }
    }

    /// The fields of one logfmt line: `key=value` or `key="quoted value"`.
    static func logfmt(_ line: String) -> [String: String] {
        var fields: [String: String] = [:]
        var rest = Substring(line)
        while let equals = rest.firstIndex(of: "=") {
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces)
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                while let character = rest.first, character != "\"" {
                    rest = rest.dropFirst()
                    if character == "\\", let escaped = rest.first {
                        value.append(escaped == "n" ? "\n" : escaped)
                        rest = rest.dropFirst()
                    } else {
                        value.append(character)
                    }
                }
                rest = rest.dropFirst()
            } else {
                let end = rest.firstIndex(of: " ") ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            fields[key] = value
        }
        return fields
    }
}
