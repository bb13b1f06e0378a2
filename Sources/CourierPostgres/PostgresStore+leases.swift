import CourierCore
import CourierStore
import PostgresNIO

extension PostgresStore {
    package func renewLease(expiresAt: Int64, now: Int64) throws -> Bool {
        try writer.run { session in
            // `xmax` is 0 on a row this statement inserted, the updating transaction's id otherwise.
            let rows = try session.query(
                """
                INSERT INTO bridge_leases (bridge_id, expires_at, renewed_at) VALUES (\(bridgeID), \(expiresAt), \(now))
                ON CONFLICT (bridge_id) DO UPDATE SET expires_at = excluded.expires_at, renewed_at = excluded.renewed_at
                RETURNING xmax = 0
                """)
            guard let inserted = try rows.first?.decode(Bool.self) else { throw PostgresStoreError.database("no lease row returned") }
            return !inserted
        }
    }

    package func releaseLease() throws {
        _ = try writer.run { session in
            try session.query("UPDATE bridge_leases SET expires_at = 0 WHERE bridge_id = \(bridgeID)")
        }
    }

    /// Deletes the lapsed leases and moves their bridges' requests (and the requests of no
    /// bridge) to this one, in one transaction. Two bridges looking at once take turns on the
    /// lease rows' locks, so each lapsed bridge is taken over by one of them.
    package func takeOverLapsedLeases(now: Int64) throws -> [Takeover] {
        let owned = "(state IN \(RequestColumns.pendingSQL) OR \(Self.undeliveredCondition))"
        return try writer.run { session in
            try session.transaction {
                let lapsed = try session.query(
                    "DELETE FROM bridge_leases WHERE expires_at < \(now) AND bridge_id <> \(bridgeID) RETURNING bridge_id"
                ).map { try $0.decode(String.self) }
                var takeovers: [Takeover] = []
                for bridge in lapsed {
                    let moved = try session.query(
                        "UPDATE requests SET owner = \(bridgeID) WHERE owner = \(bridge) AND \(unescaped: owned)")
                    takeovers.append(Takeover(bridgeID: bridge, requests: moved.metadata.rows ?? 0))
                }
                let orphans = try session.query(
                    "UPDATE requests SET owner = \(bridgeID) WHERE owner IS NULL AND \(unescaped: owned)")
                if let count = orphans.metadata.rows, count > 0 {
                    takeovers.append(Takeover(bridgeID: nil, requests: count))
                }
                return takeovers
            }
        }
    }
}
