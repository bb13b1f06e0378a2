import CourierCore

extension SQLiteStore {
    /// Starts the next worker attempt of a request that is waiting for one (state `received`)
    /// and has made exactly `afterAttempts` attempts: compare-and-set, so two paths racing to
    /// dispatch the same request (the fast path and the timer scan) start it once.
    package func claimAttempt(id: String, afterAttempts: Int, wakeAt: Int64, now: Int64) throws -> RequestRecord? {
        try modify(id: id, onlyFrom: [.received], where: { $0.attempts == afterAttempts }) { record in
            record.state = .dispatched
            record.attempts = afterAttempts + 1
            record.wakeAt = wakeAt
            record.updatedAt = now
        }
    }

    /// Ends a timed-out attempt and schedules the next one at `wakeAt` (the retry backoff):
    /// state back to `received`, only if attempt `attempt` is still the running one.
    package func requeue(id: String, attempt: Int, wakeAt: Int64, now: Int64) throws -> RequestRecord? {
        try modify(id: id, onlyFrom: [.dispatched], where: { $0.attempts == attempt }) { record in
            record.state = .received
            record.wakeAt = wakeAt
            record.updatedAt = now
        }
    }
}

extension SQLiteStore {
    /// Moves the timer of attempt `attempt` to `wakeAt` (a worker's heartbeat), only if it is
    /// still the running one; `acknowledged` also sets `replyStatus` to 202.
    package func extendAttempt(id: String, attempt: Int, wakeAt: Int64, acknowledged: Bool, now: Int64) throws -> RequestRecord? {
        try modify(id: id, onlyFrom: [.dispatched], where: { $0.attempts == attempt }) { record in
            record.wakeAt = wakeAt
            record.updatedAt = now
            if acknowledged { record.replyStatus = 202 }
        }
    }
}
