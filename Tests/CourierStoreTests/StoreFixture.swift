import CourierCore
import CourierStore
import Foundation

/// A store on a real SQLite file in a fresh temporary directory, removed by ``remove()``.
struct StoreFixture {
    let directory: URL
    let path: String
    let store: SQLiteStore

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("courier-store-tests-\(UUID().uuidString)")
        // A nested path, so opening also exercises creating parent directories.
        path = directory.appendingPathComponent("data/courier.sqlite").path
        store = try SQLiteStore(path: path)
    }

    func reopen() throws -> SQLiteStore {
        try SQLiteStore(path: path)
    }

    func remove() {
        try? store.close()
        try? FileManager.default.removeItem(at: directory)
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

extension SQLiteStore {
    /// Inserts with quotas that never bite, returning the outcome.
    @discardableResult
    func insert(_ record: RequestRecord) throws -> AcceptOutcome {
        try accept(record, maxPendingPerDevice: .max, maxPendingTotal: .max)
    }
}

let okReply = StoredReply(status: 200, payload: Data("done".utf8), contentType: "text/plain")
