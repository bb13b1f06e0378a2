import CourierTesting
import Foundation
import Testing

/// `store.retention` from a real `courier serve`: the purge, which runs beside the timer loop
/// and off the network thread, deletes a finished request once retention has passed.
@Suite(.timeLimit(.minutes(2)))
struct RetentionTests {
    @Test
    func aFinishedRequestIsPurgedOnceRetentionHasPassed() async throws {
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-retention-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let config = try writeCourierConfig(in: directory, broker: broker)
            let yaml = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "store:\n", with: "store:\n  retention: 10s\n")
            try yaml.write(toFile: config, atomically: true, encoding: .utf8)
            let serve = try await CourierDaemon.start(["serve", "--config", config], readyLine: "bridge started", directory: directory)
            let api = try await serve.httpAPI()

            let answer = try await Command.run(
                "mosquitto_rr", ["-p", "\(broker.port)", "-t", "devices/kept-1/requests/echo", "-e", "devices/kept-1/replies/echo", "-m", "ping", "-W", "10"]
            )
            #expect(answer.status == 0, "\(answer.stderr)")
            // Listed while retention keeps it (10 s: a loaded CI machine took over 3 s to start
            // the listing), then gone.
            let listed = try await Command.run(CourierDaemon.binary, ["requests", "list", "--api", api, "--json"])
            #expect(listed.stdout.contains("kept-1"), "\(listed.stdout) \(listed.stderr)")

            try await eventually("the finished request purged", within: .seconds(40)) {
                let now = try await Command.run(CourierDaemon.binary, ["requests", "list", "--api", api, "--json"])
                return now.status == 0 && !now.stdout.contains("kept-1")
            }
            #expect(serve.isRunning)
            #expect(await serve.stop() == 0)
        }
    }
}
