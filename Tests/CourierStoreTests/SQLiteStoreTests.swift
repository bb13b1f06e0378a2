import CourierCore
import CourierStore
import Foundation
import Testing

/// What only ``SQLiteStore`` has, beyond the contract every store keeps (``StoreContractTests``).
@Suite("SQLiteStore", .timeLimit(.minutes(1)))
struct SQLiteStoreTests {
    /// The counts follow every transition the bridge makes, and a reopened store counts the
    /// same from its file.
    @Test func pendingCountsFollowEveryTransitionAndSurviveReopening() throws {
        let fixture = try SQLiteFixture()
        defer { fixture.remove() }
        var store = fixture.store
        for i in 0..<5 {
            try store.insert(makeRecord(id: "p\(i)", device: i.isMultiple(of: 2) ? "even" : "odd"))
        }
        try store.insert(makeRecord(id: "r", device: "even", state: .rejected))
        #expect(try store.pendingCount() == 5)
        _ = try #require(try store.claimAttempt(id: "p0", afterAttempts: 0, wakeAt: 2_000, now: 1_000))
        _ = try #require(try store.requeue(id: "p0", attempt: 1, wakeAt: 3_000, now: 2_000))
        _ = try store.finish(id: "p1", state: .failed, reply: StoredReply(status: 500, code: "worker_error"), onlyFrom: RequestState.pending, now: 2_000)
        _ = try store.finish(id: "p2", state: .cancelled, reply: StoredReply(status: 410, code: "cancelled"), onlyFrom: RequestState.pending, now: 2_000)
        // Not pending any more: nothing changes.
        #expect(try store.finish(id: "p2", state: .expired, reply: StoredReply(status: 504, code: "timeout"), onlyFrom: RequestState.pending, now: 2_000) == nil)
        #expect(try store.pendingCount() == 3)
        #expect(try store.pendingCount(device: "even") == 2)
        #expect(try store.pendingCount(device: "odd") == 1)

        try store.close()
        store = try SQLiteStore(path: fixture.path)
        #expect(try store.pendingCount() == 3)
        #expect(try store.pendingCount(device: "even") == 2)
        #expect(try store.pendingCount(device: "odd") == 1)
        try store.close()
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

    /// The files as a crash (SIGKILL) leaves them, copied while the store runs and before it
    /// has applied anything: the store opened on the copy replays its journal, and has every
    /// write that returned.
    @Test func whatOnlyTheJournalHoldsSurvivesACrash() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let live = directory.appendingPathComponent("live")
        let store = try SQLiteStore(path: live.appendingPathComponent("courier.sqlite").path, applyInterval: .seconds(3600))
        defer { try? store.close() }
        let a = makeRecord(id: "a", identity: "d/a", wakeAt: 5_000)
        let b = makeRecord(id: "b", identity: "d/b", wakeAt: 6_000)
        let c = makeRecord(id: "c", identity: "d/c", wakeAt: 5_000)
        try store.insert(c)
        _ = try store.finish(id: "c", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 1_900)
        _ = try store.list(RequestQuery())  // applies c's final version; only its delivery is journaled
        try store.insert(a)
        try store.insert(b)
        _ = try store.finish(id: "a", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 2_000)
        try store.markDelivered(ids: ["a", "c"], now: 2_100)
        _ = try #require(try store.claimAttempt(id: "b", afterAttempts: 0, wakeAt: 7_000, now: 2_200))
        let ids = ["a", "b", "c"]
        let expected = try ids.map { try store.record(id: $0) }
        #expect(expected.map { $0?.state } == [.delivered, .dispatched, .delivered])

        let crashed = directory.appendingPathComponent("crashed")
        try FileManager.default.copyItem(at: live, to: crashed)
        let reopened = try SQLiteStore(path: crashed.appendingPathComponent("courier.sqlite").path)
        defer { try? reopened.close() }
        #expect(try ids.map { try reopened.record(id: $0) } == expected)
        #expect(try reopened.record(identity: "d/b")?.state == .dispatched)
        #expect(try reopened.pendingCount() == 1)
        #expect(try reopened.due(now: 10_000, limit: 10).map(\.id) == ["b"])
    }

    /// Reads see each record's newest version, whether it is applied to the file, waiting in
    /// the journal, or both (an older version applied, a newer one not).
    @Test func readsSeeTheNewestVersionAppliedOrNot() throws {
        let fixture = try SQLiteFixture(applyInterval: .seconds(3600))
        defer { fixture.remove() }
        let store = fixture.store
        try store.insert(makeRecord(id: "a", wakeAt: 100))
        try store.insert(makeRecord(id: "b", wakeAt: 200))
        _ = try store.list(RequestQuery())  // applies both
        _ = try store.finish(id: "a", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 2_000)
        try store.insert(makeRecord(id: "c", wakeAt: 50))

        // a's applied version is due, its newer one is final; c is only in the journal.
        #expect(try store.due(now: 1_000, limit: 10).map(\.id) == ["c", "b"])
        #expect(try store.due(now: 1_000, limit: 1).map(\.id) == ["c"])
        #expect(try store.undelivered(limit: 10).map(\.id) == ["a"])
        #expect(try store.record(id: "a")?.replyStatus == 200)
        try store.markDelivered(ids: ["a"], now: 2_100)
        #expect(try store.undelivered(limit: 10).isEmpty)
        #expect(try store.record(id: "a")?.state == .delivered)
        #expect(try store.list(RequestQuery(state: .delivered)).records.map(\.id) == ["a"])
        #expect(try store.pendingCount() == 2)
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
