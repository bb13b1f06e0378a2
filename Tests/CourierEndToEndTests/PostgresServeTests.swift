import CourierProcess
import CourierTesting
import Foundation
import Testing

/// `courier serve` with its store on PostgreSQL (`--store postgres://...`).
@Suite(.timeLimit(.minutes(3)))
struct PostgresServeTests {
    @Test func serveAnswersWithItsRequestsInPostgreSQL() async throws {
        try await PostgresServer.withShared { postgres in
            let database = try await postgres.createDatabase()
            try await withBroker { broker in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-pg-serve-\(UUID().uuidString)")
                let config = try writeCourierConfig(in: directory, broker: broker)
                let serve = try await CourierDaemon.start(
                    ["serve", "--config", config, "--store", postgres.url(database: database)], readyLine: "bridge started", directory: directory)
                let result = try await Command.run(
                    "mosquitto_rr",
                    ["-p", "\(broker.port)", "-t", "devices/pg-1/requests/echo", "-e", "devices/pg-1/replies/echo", "-m", "ping",
                     "-D", "publish", "correlation-data", "c-1", "-W", "10"]
                )
                #expect(result.status == 0, "\(result.stderr)")
                #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "ping")
                try await eventually("the reply marked delivered in PostgreSQL") {
                    try await postgres.psql("SELECT device, state, reply_status FROM requests", database: database) == "pg-1|delivered|200"
                }
                #expect(serve.log.contains("postgres://courier@127.0.0.1:\(postgres.port)/\(database)"), "\(serve.log)")
                #expect(!serve.log.contains(postgres.password))
                #expect(await serve.stop() == 0)
            }
        }
    }

    /// A store that cannot be reached stops the daemon at once, saying where it looked, and
    /// never with the password.
    @Test func anUnreachableStoreStopsTheDaemonWithoutShowingThePassword() async throws {
        let port = try FreePort.allocate()
        let result = try await Command.run(
            CourierDaemon.binary, ["serve", "--store", "postgres://courier:hunter2@127.0.0.1:\(port)/courier", "--http", "127.0.0.1:0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("cannot open the store at postgres://courier@127.0.0.1:\(port)/courier"), "\(result.stderr)")
        #expect(!(result.stdout + result.stderr).contains("hunter2"))
    }
}
