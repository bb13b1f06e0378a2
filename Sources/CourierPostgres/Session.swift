import CourierCore
import PostgresNIO

/// The connection lent to one store call.
struct Session {
    let connection: PostgresConnection
    let slot: ConnectionSlot

    @discardableResult
    func query(_ query: PostgresQuery) throws -> PostgresQueryResult {
        try slot.wait(connection.query(query, logger: slot.logger), closing: connection)
    }

    /// The records a `SELECT *` or `RETURNING *` statement yields.
    func records(_ query: PostgresQuery) throws -> [RequestRecord] {
        try self.query(query).map { try RequestRecord(row: $0) }
    }

    func record(_ query: PostgresQuery) throws -> RequestRecord? {
        try records(query).first
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    func transaction<T: Sendable>(_ body: () throws -> T) throws -> T {
        try query("BEGIN")
        do {
            let result = try body()
            try query("COMMIT")
            return result
        } catch {
            if !connection.isClosed { _ = try? query("ROLLBACK") }
            throw error
        }
    }
}
