import CourierCore
import CourierStore
import PostgresNIO

extension PostgresStore {
    // MARK: Lookup

    package func record(id: String) throws -> RequestRecord? {
        try reader.run { session in try session.record("SELECT * FROM requests WHERE id = \(id)") }
    }

    package func record(identity: String) throws -> RequestRecord? {
        try reader.run { session in try session.record("SELECT * FROM requests WHERE identity = \(identity)") }
    }

    // MARK: Timers and delivery

    /// This bridge's pending records whose timer is due (`wake_at <= now`), earliest first, at
    /// most `limit`.
    package func due(now: Int64, limit: Int) throws -> [RequestRecord] {
        try reader.run { session in
            try session.records(
                """
                SELECT * FROM requests
                WHERE state IN \(unescaped: RequestColumns.pendingSQL) AND owner = \(bridgeID) AND wake_at <= \(now)
                ORDER BY wake_at, id
                LIMIT \(max(0, limit))
                """)
        }
    }

    /// This bridge's final records with a reply to publish that the broker has not
    /// acknowledged, oldest outcome first, at most `limit`.
    package func undelivered(limit: Int) throws -> [RequestRecord] {
        try reader.run { session in
            try session.records(
                """
                SELECT * FROM requests
                WHERE \(unescaped: Self.undeliveredCondition) AND owner = \(bridgeID)
                ORDER BY updated_at, id
                LIMIT \(max(0, limit))
                """)
        }
    }

    // MARK: Counts and statistics

    /// Pending (received or dispatched) requests in the store: one row's lookup.
    package func pendingCount() throws -> Int {
        try reader.run { session in
            try session.query("SELECT count FROM pending_total WHERE id = 1").first?.decode(Int.self) ?? 0
        }
    }

    /// Outcomes of requests that reached a final state after `since` (unix ms), at most `limit`.
    package func outcomes(finishedAfter since: Int64, limit: Int) throws -> [RequestOutcome] {
        try reader.run { session in
            try session.query(
                """
                SELECT reply_status, updated_at - received_at FROM requests
                WHERE updated_at > \(since) AND reply_status IS NOT NULL
                    AND state NOT IN \(unescaped: RequestColumns.pendingSQL)
                LIMIT \(limit)
                """
            ).map { row in
                let (status, milliseconds) = try row.decode((Int, Int64).self)
                return RequestOutcome(status: status, milliseconds: milliseconds)
            }
        }
    }

    // MARK: Listing

    /// One page of records, newest first (`received_at` descending, then `id` descending), and
    /// the cursor of the next page, nil on the last; the cursors are ``SQLiteStore``'s.
    package func list(_ query: RequestQuery) throws -> (records: [RequestRecord], next: String?) {
        try page(
            deadLetters: false, state: query.state, device: query.device, operation: query.operation,
            limit: query.limit, before: query.before)
    }

    /// Dead letters (state `failed` or `rejected`), paged like ``list(_:)``.
    package func deadLetters(limit: Int, before: String?) throws -> (records: [RequestRecord], next: String?) {
        try page(deadLetters: true, state: nil, device: nil, operation: nil, limit: limit, before: before)
    }

    private func page(
        deadLetters: Bool,
        state: RequestState?,
        device: String?,
        operation: String?,
        limit: Int,
        before: String?
    ) throws -> (records: [RequestRecord], next: String?) {
        let limit = max(1, limit)
        let cursor = try before.map(PageCursor.init)
        var binds = PostgresBindings()
        func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        var sql = "SELECT * FROM requests WHERE TRUE"
        // Spelled as the dead letters' partial index is, so that PostgreSQL can use it.
        if deadLetters { sql += " AND state IN ('rejected', 'failed')" }
        if let state { sql += " AND state = \(bind(state.rawValue))" }
        if let device { sql += " AND device = \(bind(device))" }
        if let operation { sql += " AND operation = \(bind(operation))" }
        if let cursor { sql += " AND (received_at, id) < (\(bind(cursor.receivedAt)), \(bind(cursor.id)))" }
        sql += " ORDER BY received_at DESC, id DESC LIMIT \(bind(limit + 1))"
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        let rows = try reader.run { session in try session.records(query) }
        let records = Array(rows.prefix(limit))
        let next = rows.count > limit ? records.last.map { PageCursor(receivedAt: $0.receivedAt, id: $0.id).text } : nil
        return (records, next)
    }

    // MARK: Retention

    /// Deletes up to `limit` final records last updated before `cutoff`, except dead letters,
    /// kept until `deadLetterCutoff`, whose identity is cleared at `cutoff` instead (up to
    /// `limit` of them). Returns how many records were deleted or cleared.
    package func purge(finishedBefore cutoff: Int64, deadLettersBefore deadLetterCutoff: Int64, limit: Int) throws -> Int {
        try writer.run { session in
            try session.transaction {
                let deleted = try session.query(
                    """
                    DELETE FROM requests WHERE id IN (
                        SELECT id FROM requests
                        WHERE state NOT IN \(unescaped: RequestColumns.pendingSQL) AND updated_at < \(cutoff)
                          AND (state NOT IN ('rejected', 'failed') OR updated_at < \(deadLetterCutoff))
                        LIMIT \(limit))
                    """
                ).metadata.rows ?? 0
                let cleared = try session.query(
                    """
                    UPDATE requests SET identity = NULL WHERE id IN (
                        SELECT id FROM requests
                        WHERE \(unescaped: Self.deadLetterIdentityCondition) AND updated_at < \(cutoff)
                        LIMIT \(limit))
                    """
                ).metadata.rows ?? 0
                return max(deleted, cleared)
            }
        }
    }
}
