import CourierStore
import Foundation

/// A SQLite store on a real file in a fresh temporary directory, removed by ``remove()``: for
/// what only ``SQLiteStore`` has.
struct SQLiteFixture {
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

    func remove() {
        try? store.close()
        try? FileManager.default.removeItem(at: directory)
    }
}
