import CourierCore
import CourierStore
import PostgresNIO

extension PostgresStore {
    /// Stores final outcomes on the requests still in one of each outcome's `onlyFrom` states
    /// (compare-and-set) and marks replies delivered, in one transaction. One stored record
    /// per outcome, nil where the request was missing or in another state.
    package func finish(_ outcomes: [FinalOutcome], markingDelivered delivered: [String], now: Int64) throws -> [RequestRecord?] {
        try writer.run { session in
            try session.transaction {
                let records = try outcomes.map { try Self.finish(session, $0, owner: bridgeID, now: now) }
                try Self.markDelivered(session, ids: delivered, now: now)
                return records
            }
        }
    }

    /// Starts attempt `afterAttempts + 1` of this bridge's request waiting in `received` after
    /// exactly `afterAttempts` attempts; nil when it is not (compare-and-set).
    package func claimAttempt(id: String, afterAttempts: Int, wakeAt: Int64, now: Int64) throws -> RequestRecord? {
        try writer.run { session in
            try session.record(
                """
                UPDATE requests SET state = 'dispatched', attempts = \(afterAttempts + 1), wake_at = \(wakeAt), updated_at = \(now)
                WHERE id = \(id) AND state = 'received' AND attempts = \(afterAttempts) AND owner = \(bridgeID)
                RETURNING *
                """)
        }
    }

    /// Puts this bridge's request back to `received`, to start again at `wakeAt`, if attempt
    /// `attempt` is still the one running; nil otherwise.
    package func requeue(id: String, attempt: Int, wakeAt: Int64, now: Int64) throws -> RequestRecord? {
        try writer.run { session in
            try session.record(
                """
                UPDATE requests SET state = 'received', wake_at = \(wakeAt), updated_at = \(now)
                WHERE id = \(id) AND state = 'dispatched' AND attempts = \(attempt) AND owner = \(bridgeID)
                RETURNING *
                """)
        }
    }

    /// Moves the timer of this bridge's attempt `attempt` to `wakeAt`, if it is still the
    /// running one (`acknowledged`: `reply_status` 202 too); nil otherwise.
    package func extendAttempt(id: String, attempt: Int, wakeAt: Int64, acknowledged: Bool, now: Int64) throws -> RequestRecord? {
        let replyStatus: Int? = acknowledged ? 202 : nil
        return try writer.run { session in
            try session.record(
                """
                UPDATE requests SET wake_at = \(wakeAt), updated_at = \(now), reply_status = coalesce(\(replyStatus), reply_status)
                WHERE id = \(id) AND state = 'dispatched' AND attempts = \(attempt) AND owner = \(bridgeID)
                RETURNING *
                """)
        }
    }

    /// Sets the state, reply and reason, clears the timer and, when nothing is to be
    /// published, sets `delivered_at`: only from the outcome's `onlyFrom` states. The reply is
    /// `owner`'s to publish (and to publish again if the broker does not acknowledge it).
    static func finish(_ session: Session, _ outcome: FinalOutcome, owner: String, now: Int64) throws -> RequestRecord? {
        let reply = outcome.reply
        let userProperties = try StoredProperties.json(reply.userProperties)
        let deliveredAt: Int64? = outcome.delivered ? now : nil
        return try session.record(
            """
            UPDATE requests
            SET state = \(outcome.state.rawValue), reply_status = \(reply.status), reply_code = \(reply.code),
                reply_payload = \(reply.payload), reply_content_type = \(reply.contentType),
                reply_user_properties = \(userProperties), reason = \(reply.reason), wake_at = NULL,
                updated_at = \(now), delivered_at = \(deliveredAt), owner = \(owner)
            WHERE id = \(outcome.id) AND state = ANY(\(outcome.onlyFrom.map(\.rawValue)))
            RETURNING *
            """)
    }

    /// Records that the broker acknowledged these final replies: sets `delivered_at` and moves
    /// `completed` to `delivered`, other final states stay. Pending records and records
    /// already marked are left alone; `updated_at` stays the outcome's time.
    static func markDelivered(_ session: Session, ids: [String], now: Int64) throws {
        guard !ids.isEmpty else { return }
        try session.query(
            """
            UPDATE requests
            SET delivered_at = \(now), state = CASE state WHEN 'completed' THEN 'delivered' ELSE state END
            WHERE id = ANY(\(ids)) AND delivered_at IS NULL AND state NOT IN \(unescaped: RequestColumns.pendingSQL)
            """)
    }
}
