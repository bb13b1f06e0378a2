import CourierCore
import GRDB

extension SQLiteStore {
    /// Outcomes of requests that reached a final state after `since` (unix ms), at most `limit`.
    package func outcomes(finishedAfter since: Int64, limit: Int = 100_000) throws -> [RequestOutcome] {
        try apply()
        return try pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT replyStatus, updatedAt - receivedAt AS elapsed FROM requests
                    WHERE updatedAt > ? AND replyStatus IS NOT NULL AND state NOT IN \(RequestState.pendingSQL)
                    LIMIT ?
                    """,
                arguments: [since, limit]
            )
            return rows.map { RequestOutcome(status: $0["replyStatus"], milliseconds: $0["elapsed"]) }
        }
    }
}
