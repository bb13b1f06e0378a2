import CourierCore
import CourierPostgres
import CourierStore
import Logging

extension CourierConfiguration.Store {
    /// Opens the store this configuration names: PostgreSQL when `store.url` is a
    /// `postgres://` URL, shared with other bridges and working for `bridgeID`, else the
    /// SQLite file at `store.path`.
    func open(bridgeID: String, logger: Logger) throws -> any RequestStore {
        do {
            if let postgres {
                return try PostgresStore(url: postgres, bridgeID: bridgeID, logger: logger)
            }
            return try SQLiteStore(path: path, checkpointInterval: .milliseconds(250))
        } catch {
            throw StoreOpenError(location: location, underlying: error)
        }
    }
}

/// A store that could not be opened, with where it is (never with a password).
struct StoreOpenError: Error, CustomStringConvertible {
    var location: String
    var underlying: any Error

    var description: String { "cannot open the store at \(location): \(underlying)" }
}
