import CourierCore
import Foundation

extension SQLiteStore {
    /// Stores final outcomes, each only if its record is in one of the outcome's `onlyFrom`
    /// states (compare-and-set), and ``markDelivered(ids:now:)`` for `delivered`, in one
    /// write (a group commit). Returns one updated record or nil per outcome, in order:
    /// nil when the record is missing or in another state, which is how late and duplicate
    /// worker replies are ignored.
    package func finish(_ outcomes: [FinalOutcome], markingDelivered delivered: [String] = [], now: Int64) throws
        -> [RequestRecord?]
    {
        try write(versions: outcomes.count + delivered.count) { transaction, _ in
            let records = try outcomes.map { try Self.finish($0, &transaction, now: now) }
            try Self.markDelivered(delivered, &transaction, now: now)
            return records
        }
    }

    static func finish(_ outcome: FinalOutcome, _ transaction: inout StoreTransaction, now: Int64) throws -> RequestRecord? {
        precondition(outcome.onlyFrom.allSatisfy { !$0.isFinal }, "a final outcome applies to pending requests only")
        guard let original = try transaction.record(id: outcome.id), outcome.onlyFrom.contains(original.state) else { return nil }
        let record = original.finished(outcome, now: now)
        transaction.update(original, to: record)
        return record
    }

    /// Records that the final replies were acknowledged by the broker, in one write: sets
    /// `deliveredAt` and moves `completed` to `delivered`; other final states keep their state.
    /// `updatedAt` stays the time the outcome was stored. Pending records and records already
    /// marked are left alone.
    package func markDelivered(ids: [String], now: Int64) throws {
        guard !ids.isEmpty else { return }
        try write(versions: ids.count) { transaction, _ in try Self.markDelivered(ids, &transaction, now: now) }
    }

    static func markDelivered(_ ids: [String], _ transaction: inout StoreTransaction, now: Int64) throws {
        for id in ids {
            guard let original = try transaction.record(id: id), original.state.isFinal, original.deliveredAt == nil else { continue }
            var record = original
            record.deliveredAt = now
            if record.state == .completed { record.state = .delivered }
            transaction.markDelivered(record, at: now)
        }
    }

    /// Applies `change` to the record if its state is in `states`, in one write.
    func modify(
        id: String,
        onlyFrom states: [RequestState],
        where condition: (RequestRecord) -> Bool = { _ in true },
        _ change: (inout RequestRecord) -> Void
    ) throws -> RequestRecord? {
        try write { transaction, _ in
            guard let original = try transaction.record(id: id), states.contains(original.state), condition(original) else {
                return nil
            }
            var record = original
            change(&record)
            transaction.update(original, to: record)
            return record
        }
    }
}

extension RequestRecord {
    /// This record ended by `outcome` at `now`: its final state and reply, no timer, and
    /// delivered at once when there is nothing to publish.
    func finished(_ outcome: FinalOutcome, now: Int64) -> RequestRecord {
        var record = self
        let reply = outcome.reply
        record.state = outcome.state
        record.replyStatus = reply.status
        record.replyCode = reply.code
        record.replyPayload = reply.payload
        record.replyContentType = reply.contentType
        record.replyUserProperties = reply.userProperties
        record.reason = reply.reason
        record.wakeAt = nil
        record.updatedAt = now
        record.deliveredAt = outcome.delivered ? now : nil
        return record
    }
}

extension RequestRecord {
    /// Whether this is a final reply still to be published: ``SQLiteStore/undeliveredCondition``.
    var isUndelivered: Bool {
        state.isFinal && replyStatus != nil && deliveredAt == nil && (responseTopic != nil || deviceProtocol == .mqtt311)
    }
}
