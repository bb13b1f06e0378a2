import CourierCore
import CourierStore
import Foundation
import Testing

/// What only ``SQLiteStore`` has, beyond the contract every store keeps (``StoreContractTests``).
@Suite("SQLiteStore", .timeLimit(.minutes(1)))
struct SQLiteStoreTests {
    @Test func updateIsReadModifyWrite() throws {
        let fixture = try SQLiteFixture()
        defer { fixture.remove() }
        try fixture.store.insert(makeRecord(id: "u", receivedAt: 1_000))
        let cancelled = try #require(
            try fixture.store.update(id: "u") { record in
                record.state = .cancelled
                record.replyStatus = 410
                record.replyCode = "cancelled"
            })
        #expect(cancelled.state == .cancelled)
        #expect(cancelled.updatedAt > 1_000)  // set to the wall clock by the store
        #expect(try fixture.store.record(id: "u") == cancelled)
        #expect(try fixture.store.pendingCount() == 0)

        let replayed = try #require(
            try fixture.store.update(id: "u") { record in
                record.state = .received
                record.updatedAt = 9_999
            })
        #expect(replayed.updatedAt == 9_999)
        #expect(try fixture.store.pendingCount(device: "dev-1") == 1)

        #expect(try fixture.store.update(id: "missing") { $0.state = .failed } == nil)
        #expect(throws: StoreError.idChanged(from: "u", to: "v")) {
            try fixture.store.update(id: "u") { $0.id = "v" }
        }
        #expect(try fixture.store.record(id: "u") == replayed)
    }

    @Test func countsByStateFollowUpdates() throws {
        let fixture = try SQLiteFixture()
        defer { fixture.remove() }
        let store = fixture.store
        for i in 0..<5 {
            try store.insert(makeRecord(id: "p\(i)", device: i.isMultiple(of: 2) ? "even" : "odd"))
        }
        try store.insert(makeRecord(id: "r", device: "even", state: .rejected))
        _ = try store.markDispatched(id: "p0", attempt: 1, wakeAt: 2_000, now: 1_000)
        _ = try store.finish(
            id: "p1", state: .failed, reply: StoredReply(status: 500, code: "worker_error"),
            onlyFrom: RequestState.pending, now: 1_000)
        _ = try store.update(id: "p2") { $0.state = .cancelled }
        _ = try store.update(id: "r") { $0.state = .received }  // a rejection made pending again
        #expect(try store.pendingCount() == 4)
        #expect(try store.pendingCount(device: "even") == 3)
        #expect(try store.pendingCount(device: "odd") == 1)

        let counts = try store.countsByState()
        #expect(counts[.received] == 3)
        #expect(counts[.dispatched] == 1)
        #expect(counts[.failed] == 1)
        #expect(counts[.cancelled] == 1)
        #expect(counts[.delivered] == 0)
        #expect(counts.count == RequestState.allCases.count)
    }

    /// The quota checks read counts kept in memory: a transaction that fails changes none.
    @Test func aFailedGroupCommitLeavesThePendingCountsAsTheyWere() throws {
        let fixture = try SQLiteFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.insert(makeRecord(id: "taken", device: "a", identity: "a/1"))
        #expect(throws: StoreError.idTaken("taken")) {
            // The first record is inserted, then the second's id is found taken: all rolled back.
            try store.commit(
                accepting: [makeRecord(id: "new", device: "a", identity: "a/2"), makeRecord(id: "taken", device: "b", identity: "b/1")],
                maxPendingPerDevice: 10, maxPendingTotal: 10,
                finishing: [FinalOutcome(id: "taken", state: .completed, reply: StoredReply(status: 200, code: "ok"))],
                markingDelivered: [], now: 2_000)
        }
        #expect(try store.record(id: "new") == nil)
        #expect(try store.pendingCount() == 1)
        #expect(try store.pendingCount(device: "a") == 1)
        #expect(try store.pendingCount(device: "b") == 0)
        // The counts still bite where the file says they should.
        let outcomes = try store.accept(
            [makeRecord(device: "a", identity: "a/3"), makeRecord(device: "a", identity: "a/4")], maxPendingPerDevice: 2, maxPendingTotal: 10)
        #expect(outcomes[0] == .accepted)
        #expect(outcomes[1] == .deviceOverQuota(pending: 2))
    }

    @Test func markDispatchedOnlyMovesPendingRecords() throws {
        let fixture = try SQLiteFixture()
        defer { fixture.remove() }
        let store = fixture.store
        try store.insert(makeRecord(id: "d"))
        let first = try #require(try store.markDispatched(id: "d", attempt: 1, wakeAt: 5_000, now: 1_100))
        #expect(first.state == .dispatched)
        #expect(first.attempts == 1)
        #expect(first.wakeAt == 5_000)
        #expect(first.updatedAt == 1_100)
        let second = try #require(try store.markDispatched(id: "d", attempt: 2, wakeAt: 9_000, now: 5_100))
        #expect(second.attempts == 2)
        #expect(try store.record(id: "d") == second)

        _ = try store.finish(id: "d", state: .completed, reply: okReply, onlyFrom: [.dispatched], now: 6_000)
        #expect(try store.markDispatched(id: "d", attempt: 3, wakeAt: 9_500, now: 7_000) == nil)
        #expect(try store.record(id: "d")?.state == .completed)
        #expect(try store.markDispatched(id: "none", attempt: 1, wakeAt: 1, now: 1) == nil)
    }

    @Test func setWakeAndNextWake() throws {
        let fixture = try SQLiteFixture()
        defer { fixture.remove() }
        let store = fixture.store
        #expect(try store.nextWake() == nil)
        try store.insert(makeRecord(id: "late", wakeAt: 3_000))
        try store.insert(makeRecord(id: "early", wakeAt: 1_000))
        try store.insert(makeRecord(id: "middle", wakeAt: 2_000))
        try store.insert(makeRecord(id: "final", state: .rejected, wakeAt: 500))
        #expect(try store.nextWake() == 1_000)

        // Backoff moves a timer; a final record's timer stops counting.
        try store.setWake(id: "early", wakeAt: 4_000, now: 1_000)
        #expect(try store.nextWake() == 2_000)
        #expect(try store.due(now: 10_000, limit: 10).map(\.id) == ["middle", "late", "early"])
        _ = try store.finish(id: "middle", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 2_100)
        #expect(try store.nextWake() == 3_000)
        try store.setWake(id: "middle", wakeAt: 1, now: 2_200)  // final: ignored
        #expect(try store.record(id: "middle")?.wakeAt == nil)
        try store.setWake(id: "late", wakeAt: nil, now: 2_200)
        try store.setWake(id: "early", wakeAt: nil, now: 2_200)
        #expect(try store.nextWake() == nil)
        #expect(try store.due(now: .max, limit: 10).isEmpty)
    }

    @Test func theCheckpointThreadMovesTheWALIntoTheDatabaseAndStopsWithTheStore() async throws {
        let fixture = try SQLiteFixture()
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
