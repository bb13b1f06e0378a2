import CourierCore
import CourierPostgres
import CourierStore
import CourierTestTraits
import CourierTesting
import Testing

/// Leases and takeover on a shared store: which bridge's timers and delivery sweep see which
/// requests, and how they move when a bridge's lease lapses.
@Suite("PostgresStore leases", .sharedPostgres, .ownThreads, .timeLimit(.minutes(2)))
struct PostgresLeaseTests {
    /// Two bridges' stores on a new database, each holding a lease until `leaseUntil`.
    private func twoBridges(leaseUntil: Int64 = 10_000) async throws -> (a: PostgresStore, b: PostgresStore) {
        let url = try await freshDatabase()
        let a = try PostgresStore(url: url, bridgeID: "bridge-a")
        let b = try PostgresStore(url: url, bridgeID: "bridge-b")
        #expect(try a.renewLease(expiresAt: leaseUntil, now: 0) == false, "no lease before the first renewal")
        #expect(try b.renewLease(expiresAt: leaseUntil, now: 0) == false)
        #expect(try a.renewLease(expiresAt: leaseUntil, now: 0) == true, "held since")
        return (a, b)
    }

    private func freshDatabase() async throws -> PostgresURL {
        let server = try SharedPostgres.current()
        return try PostgresURL(parsing: server.url(database: try await server.createDatabase()))
    }

    @Test func eachBridgeSeesOnlyItsOwnTimersAndUndeliveredReplies() async throws {
        let (a, b) = try await twoBridges()
        defer { try? a.close(); try? b.close() }
        try a.insert(makeRecord(id: "mine", wakeAt: 500))
        try a.insert(makeRecord(id: "done", wakeAt: 500))
        _ = try a.finish(id: "done", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 600)

        #expect(try a.due(now: 1_000, limit: 10).map(\.id) == ["mine"])
        #expect(try b.due(now: 1_000, limit: 10).isEmpty)
        #expect(try a.undelivered(limit: 10).map(\.id) == ["done"])
        #expect(try b.undelivered(limit: 10).isEmpty)
        #expect(try b.claimAttempt(id: "mine", afterAttempts: 0, wakeAt: 2_000, now: 1_000) == nil, "not bridge-b's to start")
        #expect(try b.record(id: "mine") != nil, "but every bridge can read it")
    }

    /// The bridge that stores a request's outcome (a cancel through another bridge, say) is
    /// the one that publishes the reply, so its sweep is the one that sees it undelivered.
    @Test func theBridgeThatFinishesARequestOwnsItsReply() async throws {
        let (a, b) = try await twoBridges()
        defer { try? a.close(); try? b.close() }
        try a.insert(makeRecord(id: "r"))
        _ = try b.finish(id: "r", state: .cancelled, reply: okReply, onlyFrom: RequestState.pending, now: 600)
        #expect(try a.undelivered(limit: 10).isEmpty)
        #expect(try b.undelivered(limit: 10).map(\.id) == ["r"])
    }

    @Test func nothingIsTakenOverWhileTheLeaseHolds() async throws {
        let (a, b) = try await twoBridges(leaseUntil: 10_000)
        defer { try? a.close(); try? b.close() }
        try a.insert(makeRecord(id: "r", wakeAt: 500))
        #expect(try b.takeOverLapsedLeases(now: 9_999).isEmpty)
        #expect(try a.due(now: 1_000, limit: 10).map(\.id) == ["r"])
    }

    @Test func aLapsedBridgesRequestsMoveToTheBridgeThatTakesOver() async throws {
        let (a, b) = try await twoBridges(leaseUntil: 10_000)
        defer { try? a.close(); try? b.close() }
        try a.insert(makeRecord(id: "pending", wakeAt: 500))
        try a.insert(makeRecord(id: "undelivered"))
        _ = try a.finish(id: "undelivered", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 600)
        try a.insert(makeRecord(id: "delivered"))
        _ = try a.finish(id: "delivered", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 600, delivered: true)
        #expect(try b.renewLease(expiresAt: 20_000, now: 10_001) == true)

        #expect(try b.takeOverLapsedLeases(now: 10_001) == [Takeover(bridgeID: "bridge-a", requests: 2)])
        #expect(try b.due(now: 10_001, limit: 10).map(\.id) == ["pending"])
        #expect(try b.undelivered(limit: 10).map(\.id) == ["undelivered"])
        #expect(try a.due(now: 10_001, limit: 10).isEmpty)
        #expect(try a.claimAttempt(id: "pending", afterAttempts: 0, wakeAt: 12_000, now: 10_001) == nil)
        #expect(try b.takeOverLapsedLeases(now: 10_002).isEmpty, "taken over once")

        // bridge-a comes back: it learns that its lease was gone, and does not get its requests back.
        #expect(try a.renewLease(expiresAt: 30_000, now: 10_003) == false)
        #expect(try a.due(now: 10_003, limit: 10).isEmpty)
        #expect(try b.claimAttempt(id: "pending", afterAttempts: 0, wakeAt: 12_000, now: 10_003)?.attempts == 1)
    }

    /// A bridge that stops cleanly gives its lease up: its requests are taken over at the next
    /// look, not after the lease timeout.
    @Test func aReleasedLeaseIsTakenOverAtOnce() async throws {
        let (a, b) = try await twoBridges(leaseUntil: 10_000)
        defer { try? a.close(); try? b.close() }
        try a.insert(makeRecord(id: "r", wakeAt: 500))
        try a.releaseLease()
        #expect(try b.takeOverLapsedLeases(now: 1_000) == [Takeover(bridgeID: "bridge-a", requests: 1)])
    }

    /// Bridges looking for lapsed leases at the same time: each lapsed bridge is taken over by
    /// exactly one of them.
    @Test func concurrentTakeoversTakeEachBridgeOnce() async throws {
        let url = try await freshDatabase()
        let a = try PostgresStore(url: url, bridgeID: "bridge-a")
        let b = try PostgresStore(url: url, bridgeID: "bridge-b")
        let c = try PostgresStore(url: url, bridgeID: "bridge-c")
        defer { try? a.close(); try? b.close(); try? c.close() }
        _ = try a.renewLease(expiresAt: 10_000, now: 0)
        for index in 0..<50 { try a.insert(makeRecord(id: "r-\(index)", wakeAt: 500)) }
        async let byB = Task.detached { try b.takeOverLapsedLeases(now: 10_001) }.value
        async let byC = Task.detached { try c.takeOverLapsedLeases(now: 10_001) }.value
        let all = try await byB + byC
        #expect(all.filter { $0.bridgeID == "bridge-a" }.map(\.requests) == [50])
        let dueB = try b.due(now: 10_001, limit: 100).count, dueC = try c.due(now: 10_001, limit: 100).count
        #expect(dueB + dueC == 50)
        #expect(dueB == 0 || dueC == 0)
    }

    /// Requests stored before the shared store's first version have no owner: one bridge
    /// takes them.
    @Test func requestsOfNoBridgeAreTakenOverOnce() async throws {
        let url = try await freshDatabase()
        let a = try PostgresStore(url: url, bridgeID: "bridge-a")
        let b = try PostgresStore(url: url, bridgeID: "bridge-b")
        defer { try? a.close(); try? b.close() }
        try a.insert(makeRecord(id: "old", wakeAt: 500))
        _ = try await SharedPostgres.current().psql("UPDATE requests SET owner = NULL", database: url.database)
        #expect(try a.due(now: 1_000, limit: 10).isEmpty)
        #expect(try b.takeOverLapsedLeases(now: 1_000) == [Takeover(bridgeID: nil, requests: 1)])
        #expect(try a.takeOverLapsedLeases(now: 1_000).isEmpty)
        #expect(try b.due(now: 1_000, limit: 10).map(\.id) == ["old"])
    }
}
