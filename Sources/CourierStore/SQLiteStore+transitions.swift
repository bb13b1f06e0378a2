import CourierCore
import Foundation
import GRDB

extension SQLiteStore {
    /// Stores final outcomes, each only if its record is in one of the outcome's `onlyFrom`
    /// states (compare-and-set), and ``markDelivered(ids:now:)`` for `delivered`, in one
    /// transaction (a group commit). Returns one updated record or nil per outcome, in order:
    /// nil when the record is missing or in another state, which is how late and duplicate
    /// worker replies are ignored.
    public func finish(_ outcomes: [FinalOutcome], markingDelivered delivered: [String] = [], now: Int64) throws
        -> [RequestRecord?]
    {
        try write { db, changes in
            let records = try outcomes.map { try Self.finish(db, $0, now: now, &changes) }
            try Self.markDelivered(db, ids: delivered, now: now)
            return records
        }
    }

    static func finish(_ db: Database, _ outcome: FinalOutcome, now: Int64, _ changes: inout PendingCounts) throws -> RequestRecord? {
        precondition(outcome.onlyFrom.allSatisfy { !$0.isFinal }, "a final outcome applies to pending requests only")
        let states = outcome.onlyFrom.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        let statement = try db.cachedStatement(
            sql: """
                UPDATE requests
                SET state = ?, replyStatus = ?, replyCode = ?, replyPayload = ?, replyContentType = ?,
                    replyUserProperties = ?, reason = ?, wakeAt = NULL, updatedAt = ?, deliveredAt = ?
                WHERE id = ? AND state IN (\(states))
                RETURNING *
                """)
        let reply = outcome.reply
        let arguments: StatementArguments = [
            outcome.state.rawValue, reply.status, reply.code, reply.payload, reply.contentType,
            try StoredProperties.json(reply.userProperties), reply.reason, now, outcome.delivered ? now : nil, outcome.id,
        ]
        guard let record = try RequestRow.fetchOne(statement, arguments: arguments)?.record else { return nil }
        // It was pending (`onlyFrom`); it is not if its new state is final.
        if record.state.isFinal { changes.add(-1, device: record.device) }
        return record
    }

    /// Records that the final replies were acknowledged by the broker, in one transaction: sets
    /// `deliveredAt` and moves `completed` to `delivered`; other final states keep their state.
    /// `updatedAt` stays the time the outcome was stored. Pending records and records already
    /// marked are left alone.
    public func markDelivered(ids: [String], now: Int64) throws {
        guard !ids.isEmpty else { return }
        try pool.write { db in try Self.markDelivered(db, ids: ids, now: now) }
    }

    static func markDelivered(_ db: Database, ids: [String], now: Int64) throws {
        guard !ids.isEmpty else { return }
        let statement = try db.cachedStatement(
            sql: """
                UPDATE requests
                SET deliveredAt = ?, state = CASE state WHEN 'completed' THEN 'delivered' ELSE state END
                WHERE id = ? AND deliveredAt IS NULL AND state NOT IN \(RequestState.pendingSQL)
                """)
        for id in ids {
            try statement.execute(arguments: [now, id])
        }
    }

    /// Applies `change` to the record if its state is in `states`, in one write transaction.
    func modify(
        id: String,
        onlyFrom states: [RequestState],
        where condition: (RequestRecord) -> Bool = { _ in true },
        _ change: (inout RequestRecord) -> Void
    ) throws -> RequestRecord? {
        try write { db, changes in
            guard var record = try Self.fetch(db, id: id), states.contains(record.state), condition(record) else {
                return nil
            }
            let original = record
            change(&record)
            try RequestRow(record).save(db)
            changes.record(from: original, to: record)
            return record
        }
    }
}

extension PendingCounts {
    /// Adds what a stored record's change from `original` to `record` does to the counts.
    mutating func record(from original: RequestRecord, to record: RequestRecord) {
        if !original.state.isFinal { add(-1, device: original.device) }
        if !record.state.isFinal { add(1, device: record.device) }
    }
}
