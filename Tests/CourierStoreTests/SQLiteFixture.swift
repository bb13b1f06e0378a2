import CourierStore
import Foundation

/// A SQLite store on a real file in a fresh temporary directory, removed by ``remove()``: for
/// what only ``SQLiteStore`` has.
struct SQLiteFixture {
    let directory: URL
    let path: String
    let store: SQLiteStore

    /// - Parameter applyInterval: how often the store applies its journal; an hour keeps
    ///   every write in the journal until a read or the test applies it.
    init(applyInterval: Duration = .milliseconds(50)) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("courier-store-tests-\(UUID().uuidString)")
        // A nested path, so opening also exercises creating parent directories.
        path = directory.appendingPathComponent("data/courier.sqlite").path
        store = try SQLiteStore(path: path, applyInterval: applyInterval)
    }

    func remove() {
        try? store.close()
        try? FileManager.default.removeItem(at: directory)
    }
}
