import CourierCore
import PostgresNIO

extension PostgresStore {
    /// One group commit, in one transaction: new requests in order, owned by this bridge (a duplicate of a stored
    /// identity yields the stored record; a pending request over the device's quota, then over
    /// the total, is refused; a final one skips the quotas), then final outcomes and delivery
    /// marks as ``finish(_:markingDelivered:now:)`` applies them.
    package func commit(
        accepting records: [RequestRecord],
        maxPendingPerDevice: Int,
        maxPendingTotal: Int,
        finishing outcomes: [FinalOutcome],
        markingDelivered delivered: [String],
        now: Int64
    ) throws -> (accepted: [AcceptOutcome], finished: [RequestRecord?]) {
        try writer.run { session in
            try session.transaction {
                let accepted = try records.map {
                    try Self.accept(session, $0, owner: bridgeID, maxPendingPerDevice: maxPendingPerDevice, maxPendingTotal: maxPendingTotal)
                }
                let finished = try outcomes.map { try Self.finish(session, $0, owner: bridgeID, now: now) }
                try Self.markDelivered(session, ids: delivered, now: now)
                return (accepted, finished)
            }
        }
    }

    private static func accept(
        _ session: Session, _ record: RequestRecord, owner: String, maxPendingPerDevice: Int, maxPendingTotal: Int
    ) throws
        -> AcceptOutcome
    {
        if let identity = record.identity, let existing = try session.record("SELECT * FROM requests WHERE identity = \(identity)") {
            return .duplicate(existing)
        }
        if !record.state.isFinal {
            // The total's row lock first: see the schema's note on lock order.
            let counts = try session.query(
                """
                SELECT t.count, coalesce((SELECT d.count FROM device_pending d WHERE d.device = \(record.device)), 0)
                FROM pending_total t WHERE t.id = 1 FOR UPDATE OF t
                """)
            guard let row = counts.first else { throw PostgresStoreError.database("pending_total has no row") }
            let (total, device) = try row.decode((Int, Int).self)
            if device >= maxPendingPerDevice { return .deviceOverQuota(pending: device) }
            if total >= maxPendingTotal { return .totalOverQuota(pending: total) }
        }
        guard try session.query(record.insert(owner: owner)).metadata.rows == 1 else {
            // Another bridge stored the same identity since the lookup: look again.
            return try accept(session, record, owner: owner, maxPendingPerDevice: maxPendingPerDevice, maxPendingTotal: maxPendingTotal)
        }
        return .accepted
    }
}
