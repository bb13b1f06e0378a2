import CourierCore
import CourierPostgres
import CourierStore
import CourierTesting
import Foundation
import Synchronization
import Testing

/// The store implementations the contract tests run against.
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }
}

/// A fresh, empty store of one backend, removed by ``remove()``: a SQLite file in a temporary
/// directory, or a new database on the suite's PostgreSQL server (``SharedPostgres``).
struct StoreFixture {
    let store: any RequestStore
    /// Opens the same store again.
    let reopen: @Sendable () throws -> any RequestStore
    private let cleanUp: @Sendable () -> Void

    static func make(_ backend: StoreBackend) async throws -> StoreFixture {
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-store-tests-\(UUID().uuidString)")
            // A nested path, so opening also exercises creating parent directories.
            let path = directory.appendingPathComponent("data/courier.sqlite").path
            let store = try SQLiteStore(path: path)
            return StoreFixture(store: store, reopen: { try SQLiteStore(path: path) }) {
                try? store.close()
                try? FileManager.default.removeItem(at: directory)
            }
        case .postgres:
            let server = try SharedPostgres.current()
            let database = try await SpareDatabases.shared.take(on: server)
            let url = try PostgresURL(parsing: server.url(database: database))
            let store = try PostgresStore(url: url, bridgeID: "bridge-1")
            return StoreFixture(store: store, reopen: { try PostgresStore(url: url, bridgeID: "bridge-1") }) {
                try? store.close()
                SpareDatabases.shared.giveBack(database, on: server)
            }
        }
    }

    func remove() {
        cleanUp()
    }
}

/// Databases that tests are done with, emptied for the next ones: making a database copies a
/// template of several megabytes, emptying one costs a statement.
final class SpareDatabases: Sendable {
    static let shared = SpareDatabases()

    /// Names by server (its directory).
    private let spare = Mutex<[String: [String]]>([:])

    /// An empty database: a spare one emptied, or a new one.
    func take(on server: PostgresServer) async throws -> String {
        while let database = spare.withLock({ $0[server.directory.path]?.popLast() }) {
            // A store a failed test left open holds locks: that database is not used again.
            let emptied = try? await server.psql(
                "SET lock_timeout = '2s'; TRUNCATE requests, device_pending; UPDATE pending_total SET count = 0", database: database)
            if emptied != nil { return database }
        }
        return try await server.createDatabase()
    }

    /// Hands back a database whose stores are all closed.
    func giveBack(_ database: String, on server: PostgresServer) {
        spare.withLock { $0[server.directory.path, default: []].append(database) }
    }
}

/// A pending request with the fields tests usually don't care about filled in.
func makeRecord(
    id: String = RequestRecord.newID(),
    device: String = "dev-1",
    operation: String = "echo",
    identity: String? = nil,
    responseTopic: String? = "devices/dev-1/replies/echo",
    state: RequestState = .received,
    receivedAt: Int64 = 1_000,
    wakeAt: Int64? = nil
) -> RequestRecord {
    RequestRecord(
        id: id,
        device: device,
        operation: operation,
        deviceProtocol: .mqtt5,
        identity: identity,
        responseTopic: responseTopic,
        payload: Data("hello".utf8),
        state: state,
        receivedAt: receivedAt,
        deadline: receivedAt + 30_000,
        wakeAt: wakeAt
    )
}

let okReply = StoredReply(status: 200, payload: Data("done".utf8), contentType: "text/plain")
