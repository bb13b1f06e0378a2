import CourierCore
import CourierStore
import Foundation
import Testing

/// The batch forms the bridge uses: many requests, outcomes and delivery marks per transaction.
@Suite("SQLiteStore group commits", .timeLimit(.minutes(1)))
struct SQLiteStoreGroupCommitTests {
    @Test func aBatchOfRequestsSeesItsOwnDuplicatesAndQuotas() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let records = [
            makeRecord(id: "1", device: "a", identity: "a/r-1"),
            makeRecord(id: "2", device: "a", identity: "a/r-1"),  // the same request again
            makeRecord(id: "3", device: "a"),
            makeRecord(id: "4", device: "a"),  // over the device's quota of 2
            makeRecord(id: "5", device: "b"),  // over the total of 2
        ]
        let outcomes = try fixture.store.accept(records, maxPendingPerDevice: 2, maxPendingTotal: 2)

        #expect(outcomes.count == 5)
        #expect(outcomes[0] == .accepted)
        guard case .duplicate(let original) = outcomes[1] else {
            Issue.record("expected a duplicate, got \(outcomes[1])")
            return
        }
        #expect(original.id == "1")
        #expect(outcomes[2] == .accepted)
        #expect(outcomes[3] == .deviceOverQuota(pending: 2))
        #expect(outcomes[4] == .totalOverQuota(pending: 2))
        #expect(try fixture.store.pendingCount() == 2)
        #expect(try fixture.store.record(id: "2") == nil)
    }

    @Test func outcomesApplyOnlyToPendingRecordsAndMarksInTheSameTransaction() throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        let store = fixture.store
        for id in ["p1", "p2", "done"] {
            _ = try store.accept(makeRecord(id: id), maxPendingPerDevice: 10, maxPendingTotal: 10)
        }
        _ = try store.finish(id: "done", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 1_500)

        let records = try store.finish(
            [
                FinalOutcome(id: "p1", state: .completed, reply: okReply),
                FinalOutcome(id: "unknown", state: .completed, reply: okReply),
                FinalOutcome(id: "done", state: .failed, reply: StoredReply(status: 500, code: "worker_error")),
                FinalOutcome(id: "p2", state: .expired, reply: StoredReply(status: 504, code: "timeout")),
            ],
            markingDelivered: ["done"],
            now: 2_000
        )

        #expect(records.map { $0?.id } == ["p1", nil, nil, "p2"])
        #expect(records[0]?.state == .completed)
        #expect(records[0]?.replyStatus == 200)
        #expect(records[3]?.replyCode == "timeout")
        #expect(records[3]?.wakeAt == nil)
        let done = try #require(try store.record(id: "done"))
        #expect(done.state == .delivered)  // marked, and not overwritten by the late failure
        #expect(done.replyStatus == 200)
        #expect(done.deliveredAt == 2_000)
        #expect(done.updatedAt == 1_500)  // the outcome's time, not the delivery's
        #expect(try store.pendingCount() == 0)
        #expect(try store.undelivered(limit: 10).map(\.id).sorted() == ["p1", "p2"])
    }
}

@Suite("SQLiteStore checkpoints", .timeLimit(.minutes(1)))
struct SQLiteStoreCheckpointTests {
    @Test func theCheckpointThreadMovesTheWALIntoTheDatabaseAndStopsWithTheStore() async throws {
        let fixture = try StoreFixture()
        defer { fixture.remove() }
        try fixture.store.close()
        let path = fixture.store.path
        let store = try SQLiteStore(path: path, checkpointInterval: .milliseconds(20))
        let records = (0..<2_000).map { makeRecord(id: "r\($0)", device: "d\($0 % 20)") }
        for chunk in stride(from: 0, to: records.count, by: 100) {
            _ = try store.accept(Array(records[chunk..<chunk + 100]), maxPendingPerDevice: 1_000, maxPendingTotal: 10_000)
        }
        // SQLite starts the WAL over (and bumps its header's checkpoint sequence) at the first
        // write after a checkpoint has moved every frame into the database file. Far below the
        // automatic checkpoint's threshold, only the checkpoint thread can have done that.
        let before = try walCheckpointSequence(path)
        var probes = 0
        while try walCheckpointSequence(path) == before, probes < 1_000 {
            try await Task.sleep(for: .milliseconds(10))
            _ = try store.accept([makeRecord(id: "probe\(probes)")], maxPendingPerDevice: 1_000, maxPendingTotal: 10_000)
            probes += 1
        }
        #expect(try walCheckpointSequence(path) != before, "the WAL was never checkpointed")
        try store.close()

        let reopened = try SQLiteStore(path: path)
        #expect(try reopened.pendingCount() == 2_000 + probes)
        try reopened.close()
    }

    /// The checkpoint sequence number in the WAL file's header (big-endian, at byte 12).
    private func walCheckpointSequence(_ path: String) throws -> UInt32 {
        let wal = try FileHandle(forReadingFrom: URL(fileURLWithPath: path + "-wal"))
        defer { try? wal.close() }
        let header = try wal.read(upToCount: 16) ?? Data()
        return header.dropFirst(12).reduce(0) { $0 << 8 | UInt32($1) }
    }
}
