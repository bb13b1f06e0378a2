import CourierCore
import Foundation
import GRDB

extension SQLiteStore {
    // MARK: Timers

    /// Pending records whose timer is due (`wakeAt <= now`), earliest first, at most `limit`.
    package func due(now: Int64, limit: Int) throws -> [RequestRecord] {
        try newest(limit: limit, by: { ($0.wakeAt ?? 0, $0.id) }, where: { !$0.state.isFinal && $0.wakeAt.map { $0 <= now } ?? false }) { db in
            // Cached: the timer loop asks every tick.
            let statement = try db.cachedStatement(
                sql: """
                    SELECT * FROM requests
                    WHERE state IN \(RequestState.pendingSQL) AND wakeAt <= ?
                    ORDER BY wakeAt, id
                    LIMIT ?
                    """)
            return try RequestRow.fetchAll(statement, arguments: [now, max(0, limit)]).map(\.record)
        }
    }

    // MARK: Delivery

    /// Final records with a reply to publish (a response topic) that the broker has not
    /// acknowledged: to be republished after a restart. Oldest outcome first, at most `limit`.
    package func undelivered(limit: Int) throws -> [RequestRecord] {
        try newest(limit: limit, by: { ($0.updatedAt, $0.id) }, where: \.isUndelivered) { db in
            try RequestRow.fetchAll(
                db,
                sql: """
                    SELECT * FROM requests
                    WHERE \(Self.undeliveredCondition)
                    ORDER BY updatedAt, id
                    LIMIT ?
                    """,
                arguments: [max(0, limit)]
            ).map(\.record)
        }
    }

    /// The records that `query` finds in the file and `matches` finds among the unsettled
    /// unapplied versions (`matches` must hold for none other), each in its newest version, in
    /// `order`, at most `limit`. Read under the write lock, so no version leaves the unapplied
    /// ones before the file has it.
    private func newest(
        limit: Int,
        by order: @Sendable (RequestRecord) -> (Int64, String),
        where matches: @Sendable (RequestRecord) -> Bool,
        _ query: @Sendable (Database) throws -> [RequestRecord]
    ) throws -> [RequestRecord] {
        try writes.withLock { writes in
            let stored = try file.inDatabase(query).filter { !writes.unapplied.contains($0.id) }
            let merged = (stored + writes.unapplied.unsettledRecords.filter(matches)).sorted { order($0) < order($1) }
            return Array(merged.prefix(max(0, limit)))
        }
    }

    // MARK: Counts

    /// Pending (received or dispatched) requests in the store, as this process counts them. O(1).
    package func pendingCount() throws -> Int {
        writes.withLock(\.pending.total)
    }

    // MARK: Listing

    /// One page of records, newest first (`receivedAt` descending, then `id` descending),
    /// filtered by `query`. `next` is the cursor for the following page (pass it as
    /// `query.before`), nil on the last page. Paging is by key, so records inserted meanwhile
    /// neither shift nor repeat pages. Throws ``StoreError/badCursor`` for a malformed cursor.
    package func list(_ query: RequestQuery) throws -> (records: [RequestRecord], next: String?) {
        try page(
            states: query.state.map { [$0] },
            device: query.device,
            operation: query.operation,
            limit: query.limit,
            before: query.before)
    }

    /// Dead letters (state `failed` or `rejected`), paged like ``list(_:)``.
    package func deadLetters(limit: Int, before: String?) throws
        -> (records: [RequestRecord], next: String?)
    {
        try page(
            states: RequestState.allCases.filter(\.isDeadLetter),
            device: nil,
            operation: nil,
            limit: limit,
            before: before)
    }

    private func page(
        states: [RequestState]?,
        device: String?,
        operation: String?,
        limit: Int,
        before: String?
    ) throws -> (records: [RequestRecord], next: String?) {
        let limit = max(1, limit)
        let cursor = try before.map(PageCursor.init)
        try apply()
        return try pool.read { db in
            typealias Columns = RequestRow.Columns
            var request = RequestRow.all()
            if let states {
                request = request.filter(states.map(\.rawValue).contains(Columns.state))
            }
            if let device {
                request = request.filter(Columns.device == device)
            }
            if let operation {
                request = request.filter(Columns.operation == operation)
            }
            if let cursor {
                request = request.filter(
                    Columns.receivedAt < cursor.receivedAt
                        || (Columns.receivedAt == cursor.receivedAt && Columns.id < cursor.id))
            }
            let rows = try request
                .order(Columns.receivedAt.desc, Columns.id.desc)
                .limit(limit + 1)
                .fetchAll(db)
            let records = rows.prefix(limit).map(\.record)
            let next =
                rows.count > limit
                ? records.last.map { PageCursor(receivedAt: $0.receivedAt, id: $0.id).text } : nil
            return (Array(records), next)
        }
    }

    // MARK: Retention

    /// Deletes up to `limit` records in a final state last updated before `cutoff` (unix ms),
    /// except dead letters, which are kept until `deadLetterCutoff` but stop answering
    /// duplicates at `cutoff` (up to `limit` of them have their identity cleared). Returns how
    /// many records were deleted or cleared: call again while it returns `limit`, so that no
    /// single transaction holds the writer for long.
    @discardableResult
    package func purge(finishedBefore cutoff: Int64, deadLettersBefore deadLetterCutoff: Int64, limit: Int = .max) throws -> Int {
        // Applied first only when it would purge something not applied yet: what is waiting
        // is usually younger.
        if writes.withLock({ $0.unapplied.mayHoldFinal(before: cutoff) }) {
            try apply()
        }
        return try pool.write { db in
            try db.execute(
                sql: """
                    DELETE FROM requests WHERE id IN (
                        SELECT id FROM requests
                        WHERE state NOT IN \(RequestState.pendingSQL) AND updatedAt < ?
                          AND (state NOT IN ('rejected', 'failed') OR updatedAt < ?)
                        LIMIT ?)
                    """,
                arguments: [cutoff, deadLetterCutoff, limit])
            let deleted = db.changesCount
            try db.execute(
                sql: """
                    UPDATE requests SET identity = NULL, identityHash = NULL WHERE id IN (
                        SELECT id FROM requests WHERE \(Self.deadLetterIdentityCondition) AND updatedAt < ? LIMIT ?)
                    """,
                arguments: [cutoff, limit])
            return max(deleted, db.changesCount)
        }
    }
}
