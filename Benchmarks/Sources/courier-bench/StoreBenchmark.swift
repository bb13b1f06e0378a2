import ArgumentParser
import CourierCore
import CourierStore
import Foundation
import GRDB

/// `courier-bench store`: the request store's write path without a broker, against a bare
/// one-row-per-transaction SQLite insert in the same kind of file.
struct StoreBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "The store's intake, group-commit and delivery writes against a bare SQLite insert.",
        discussion: """
            Intake inserts requests one per transaction (a quiet bridge) and in batches (a busy \
            one: the bridge commits every request read from its socket in one go, before the \
            PUBACKs); outcomes and delivery marks are committed in batches, as the bridge does. \
            These are the writes a bridge waits for: appends to the store's intake journal, while \
            the store's own thread applies them to the SQLite file beside them; the last row adds \
            closing the store, which applies what is left. The baseline inserts a 64-byte row \
            per transaction into an unindexed table with the same pragmas (WAL, synchronous NORMAL).
            """
    )

    @Option(help: "Requests per phase.")
    var requests = 20_000

    @Option(help: "Outcomes (and delivery marks) per group commit.")
    var batch = 64

    @Option(help: "Correlation data: random (16 bytes, as clients that send UUIDs) or counter (a device's sequence number, as the load generators).")
    var correlation: Correlation = .random

    enum Correlation: String, ExpressibleByArgument {
        case random, counter
    }

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-bench-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        BenchReport.output("command:  \(BenchReport.commandLine)")
        BenchReport.output("date:     \(Date().formatted(.iso8601))")
        BenchReport.output("load:     \(requests) requests, 64-byte payloads, \(correlation) correlation data, group commits of \(batch)")
        BenchReport.output()

        let baseline = try bareInserts(path: directory.appendingPathComponent("bare.sqlite").path)
        let store = try SQLiteStore(path: directory.appendingPathComponent("courier.sqlite").path)
        let single = try SQLiteStore(path: directory.appendingPathComponent("single.sqlite").path)
        let singles = (0..<requests).map { record($0) }
        let intakeSingly = try measure {
            for record in singles {
                _ = try single.accept(record, maxPendingPerDevice: 1_000, maxPendingTotal: 1_000_000)
            }
        }
        try single.close()
        let records = (0..<requests).map { record($0) }
        let applyingBefore = ProcessCPU.threadSeconds(named: "courier.apply")
        let intake = try measure {
            for chunk in stride(from: 0, to: records.count, by: batch) {
                let slice = Array(records[chunk..<min(chunk + batch, records.count)])
                _ = try store.accept(slice, maxPendingPerDevice: 1_000, maxPendingTotal: 1_000_000)
            }
        }
        let ids = records.map(\.id)
        let reply = StoredReply(status: 200, code: "ok", payload: Data(repeating: 0x61, count: 64))
        let outcomes = try measure {
            for chunk in stride(from: 0, to: ids.count, by: batch) {
                let slice = ids[chunk..<min(chunk + batch, ids.count)]
                _ = try store.finish(slice.map { FinalOutcome(id: $0, state: .completed, reply: reply) }, now: unixMillis())
            }
        }
        let marks = try measure {
            for chunk in stride(from: 0, to: ids.count, by: batch) {
                try store.markDelivered(ids: Array(ids[chunk..<min(chunk + batch, ids.count)]), now: unixMillis())
            }
        }
        // The store's applying thread, as it kept up with the phases above; it ends with the store.
        let applying = ProcessCPU.threadSeconds(named: "courier.apply") - applyingBefore
        let applied = try measure { try store.close() }

        var table = TextTable("phase", "writes/s", "µs each", "vs bare insert")
        func row(_ name: String, _ seconds: Double) {
            let perSecond = Double(requests) / seconds
            table.add(name, perSecond.text(0), (seconds / Double(requests) * 1e6).text(1), (perSecond / (Double(requests) / baseline)).text(2) + "x")
        }
        row("bare insert, 1 per transaction", baseline)
        row("intake: accept, 1 per transaction", intakeSingly)
        row("intake: accept, \(batch) per transaction", intake)
        row("outcomes: finish, \(batch) per transaction", outcomes)
        row("delivery marks, \(batch) per transaction", marks)
        row("one request's writes in all, batched", intake + outcomes + marks)
        row("the same, and the rest applied to the file", intake + outcomes + marks + applied)
        BenchReport.output(table)
        BenchReport.output()
        BenchReport.output("applying thread: \(applying.text(2)) CPU-s while the phases ran, \((applying / Double(requests) * 1e6).text(1)) µs a request")
    }

    private func bareInserts(path: String) throws -> Double {
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try pool.write { db in try db.execute(sql: "CREATE TABLE rows (id TEXT PRIMARY KEY, payload BLOB NOT NULL)") }
        let payload = Data(repeating: 0x61, count: 64)
        let seconds = try measure {
            for index in 0..<requests {
                try pool.write { db in
                    try db.cachedStatement(sql: "INSERT INTO rows (id, payload) VALUES (?, ?)").execute(arguments: ["\(index)", payload])
                }
            }
        }
        try pool.close()
        return seconds
    }

    private func measure(_ body: () throws -> Void) throws -> Double {
        let start = ContinuousClock.now
        try body()
        let elapsed = (ContinuousClock.now - start).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }

    /// A request as intake stores it, with the identity intake gives it.
    private func record(_ index: Int) -> RequestRecord {
        let now = unixMillis()
        var record = RequestRecord(
            id: RequestRecord.newID(),
            device: "bench-\(index % 50)",
            operation: "echo",
            deviceProtocol: .mqtt5,
            correlationData: correlation == .random ? withUnsafeBytes(of: UUID().uuid) { Data($0) } : Data("c\(index / 50)".utf8),
            responseTopic: "devices/bench-\(index % 50)/replies/bench",
            payload: Data(repeating: 0x61, count: 64),
            state: .dispatched,
            attempts: 1,
            receivedAt: now,
            deadline: now + 10_000,
            wakeAt: now + 3_000
        )
        record.identity = RequestIntake.identity(of: record)
        return record
    }
}
