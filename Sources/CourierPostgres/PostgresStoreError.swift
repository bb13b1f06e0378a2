import PostgresNIO

/// Errors of ``PostgresStore`` beyond the ``StoreError``s every store raises.
package enum PostgresStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The store was closed.
    case closed
    /// PostgreSQL did not answer within the store's timeout; the connection was dropped and
    /// is made again on the next call.
    case timedOut(Duration)
    /// PostgreSQL could not be reached or refused the statement: its own message, or the
    /// network's.
    case database(String)
    /// The database holds schema versions this build does not know: a newer Courier migrated it.
    case unknownSchemaVersions([String])

    package var description: String {
        switch self {
        case .closed: "the store is closed"
        case .timedOut(let limit): "PostgreSQL did not answer within \(limit)"
        case .database(let message): "PostgreSQL: \(message)"
        case .unknownSchemaVersions(let versions):
            "the database has schema versions this Courier does not know (\(versions.joined(separator: ", "))): a newer Courier migrated it"
        }
    }

    /// The store's error for one of postgres-nio's. `PSQLError`'s own description hides
    /// everything (it may hold the statement's values); this keeps what explains the failure,
    /// the server's message and SQLSTATE or the network error, and never the values.
    init(_ error: PSQLError) {
        self = .database(Self.message(error))
    }

    private static func message(_ error: PSQLError) -> String {
        var message = "\(error.code)"
        if let info = error.serverInfo, let text = info[.message] {
            message = text
            if let state = info[.sqlState] { message += " (SQLSTATE \(state))" }
            if let detail = info[.detail] { message += ": \(detail)" }
        }
        if let underlying = error.underlying {
            message += ": " + ((underlying as? PSQLError).map(Self.message) ?? "\(underlying)")
        }
        return message
    }
}
