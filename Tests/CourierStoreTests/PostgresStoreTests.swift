import CourierCore
import CourierPostgres
import CourierStore
import CourierTestTraits
import CourierTesting
import Dispatch
import Foundation
import Synchronization
import Testing

/// What only ``PostgresStore`` has to keep, beyond the contract (``StoreContractTests``): a
/// server that is shared, restarted, frozen or wrongly configured. On threads of their own:
/// store calls block, up to their timeout.
@Suite("PostgresStore", .sharedPostgres, .ownThreads, .timeLimit(.minutes(2)))
struct PostgresStoreTests {
    /// A new database on the suite's server.
    private func freshDatabase() async throws -> (server: PostgresServer, url: PostgresURL) {
        let server = try SharedPostgres.current()
        return (server, try PostgresURL(parsing: server.url(database: try await server.createDatabase())))
    }

    @Test func theLocationLeavesThePasswordOut() async throws {
        let (server, url) = try await freshDatabase()
        let store = try PostgresStore(url: url, bridgeID: "bridge-1")
        defer { try? store.close() }
        #expect(store.location == "postgres://courier@127.0.0.1:\(server.port)/\(url.database)")
        #expect(!store.location.contains(server.password))
    }

    @Test func aWrongPasswordIsRefusedWithoutShowingIt() async throws {
        var (_, url) = try await freshDatabase()
        url.password = "not-the-password"
        let error = try #require(throws: PostgresStoreError.self) { try PostgresStore(url: url, bridgeID: "bridge-1") }
        #expect("\(error)".contains("password authentication failed"), "\(error)")
        #expect(!"\(error)".contains("not-the-password"))
    }

    /// Bridges that start together on a new database migrate it once, in version order.
    @Test func migrationsRunOnceWhenStoresOpenTogether() async throws {
        let (server, url) = try await freshDatabase()
        let opened = Mutex<[Result<PostgresStore, any Error>]>([])
        DispatchQueue.concurrentPerform(iterations: 3) { _ in
            let result = Result { try PostgresStore(url: url, bridgeID: "bridge-1") }
            opened.withLock { $0.append(result) }
        }
        let stores = try opened.withLock { try $0.map { try $0.get() } }
        defer { stores.forEach { try? $0.close() } }
        let versions = try await server.psql("SELECT version FROM schema_migrations", database: url.database)
        #expect(versions.split(separator: "\n").sorted() == ["shared-v1", "v1", "v2", "v3", "v4", "v5"])
        #expect(try stores[0].insert(makeRecord(id: "a")) == .accepted)
        #expect(try stores[2].record(id: "a") != nil)
    }

    @Test func aDatabaseMigratedByANewerCourierIsRefused() async throws {
        let (server, url) = try await freshDatabase()
        try PostgresStore(url: url, bridgeID: "bridge-1").close()
        try await server.psql("INSERT INTO schema_migrations (version, applied_at) VALUES ('v6', 0)", database: url.database)
        #expect(throws: PostgresStoreError.unknownSchemaVersions(["v6"])) { try PostgresStore(url: url, bridgeID: "bridge-1") }
    }

    /// Two bridges' stores on one database: one's requests are the other's duplicates and
    /// count against the same quotas.
    @Test func storesOnOneDatabaseShareRequestsDuplicatesAndQuotas() async throws {
        let (_, url) = try await freshDatabase()
        let first = try PostgresStore(url: url, bridgeID: "bridge-1")
        defer { try? first.close() }
        let second = try PostgresStore(url: url, bridgeID: "bridge-2")
        defer { try? second.close() }
        let original = makeRecord(id: "one", device: "d", identity: "d/r-1")
        #expect(try first.insert(original) == .accepted)
        #expect(try second.record(id: "one") == original)
        #expect(try second.insert(makeRecord(id: "two", device: "d", identity: "d/r-1")) == .duplicate(original))
        #expect(try second.accept(makeRecord(id: "three", device: "d"), maxPendingPerDevice: 1, maxPendingTotal: 10) == .deviceOverQuota(pending: 1))
        _ = try second.finish(id: "one", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 2_000)
        #expect(try first.record(id: "one")?.state == .completed)
        #expect(try first.pendingCount() == 0)
    }

    /// While the server is down every call throws; once it is back the store reconnects on
    /// its own, and nothing committed before is lost. A frozen server answers nothing: calls
    /// give up after the store's timeout, and so do attempts to connect again. On a server of
    /// its own, which it stops and freezes.
    @Test func theStoreRidesOutARestartAndAFreeze() async throws {
        try await withPostgresServer { server in
            let url = try PostgresURL(parsing: server.url(database: try await server.createDatabase()))
            let store = try PostgresStore(url: url, bridgeID: "bridge-1")
            defer { try? store.close() }
            try store.insert(makeRecord(id: "before"))
            #expect(try store.record(id: "before") != nil)

            await server.stop()
            #expect(throws: PostgresStoreError.self) { try store.record(id: "before") }
            #expect(throws: PostgresStoreError.self) { try store.insert(makeRecord(id: "during")) }
            #expect(throws: PostgresStoreError.self) { try store.pendingCount() }

            try await server.restart()
            #expect(try store.record(id: "before") != nil)
            #expect(try store.insert(makeRecord(id: "after")) == .accepted)
            #expect(try store.record(id: "during") == nil)
            #expect(try store.pendingCount() == 2)

            let impatient = try PostgresStore(url: url, bridgeID: "bridge-1", timeout: .seconds(1))
            defer { try? impatient.close() }
            _ = try impatient.record(id: "before")  // both connections made
            _ = try impatient.purge(finishedBefore: 0, deadLettersBefore: 0, limit: 1)
            server.pause()
            defer { server.resume() }
            let started = ContinuousClock.now
            #expect(throws: PostgresStoreError.timedOut(.seconds(1))) { try impatient.record(id: "before") }
            #expect(throws: PostgresStoreError.timedOut(.seconds(1))) { try impatient.insert(makeRecord(id: "frozen")) }
            #expect(throws: PostgresStoreError.self) { try impatient.record(id: "before") }  // connecting
            #expect(ContinuousClock.now - started < .seconds(10))

            server.resume()
            #expect(try impatient.record(id: "after") != nil)
            #expect(try impatient.insert(makeRecord(id: "thawed")) == .accepted)
            #expect(try store.record(id: "frozen") == nil)
            #expect(try store.pendingCount() == 3)
        }
    }
}
