import CourierCore
import Foundation
import GRDB
import Testing

@testable import CourierStore

/// Files written by an earlier version of the schema, opened by this one.
@Suite("SQLite migrations", .timeLimit(.minutes(1)))
struct SQLiteMigrationTests {
    /// Version 8 indexes identities by their hash: a file from version 7 gets the hashes of the
    /// identities it holds, so a duplicate of a request stored before the upgrade is still one.
    @Test func identitiesStoredBeforeVersion8StillFindDuplicates() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-migration-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("courier.sqlite").path
        let identity = "m5|dev-1|AQI="
        let old = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(old, upTo: "v7")
        try old.write { db in
            try db.execute(
                sql: """
                    INSERT INTO requests (id, device, operation, deviceProtocol, identity, qos, payload, state, receivedAt, updatedAt, deadline)
                    VALUES ('before', 'dev-1', 'echo', 'mqtt5', ?, 1, x'00', 'completed', 1000, 1000, 31000)
                    """,
                arguments: [identity])
        }
        try old.close()

        let store = try SQLiteStore(path: path)
        defer { try? store.close() }
        #expect(try store.record(identity: identity)?.id == "before")
        let outcome = try store.accept(makeRecord(id: "after", identity: identity), maxPendingPerDevice: 10, maxPendingTotal: 10)
        guard case .duplicate(let original) = outcome else {
            Issue.record("expected a duplicate, got \(outcome)")
            return
        }
        #expect(original.id == "before")
        #expect(try store.record(id: "after") == nil)
    }
}
