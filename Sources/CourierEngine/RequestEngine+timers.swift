import CourierCore

extension RequestEngine {
    /// A pending request's timer (`wakeAt`) is due at `now`: its deadline passed, a waiting
    /// request can start an attempt, or an attempt timed out and is retried or given up.
    package func timerFired(_ record: RequestRecord, now: Int64, stopping: Bool) -> [Effect] {
        if now >= record.deadline {
            return [.finish(Self.errorOutcome(record.id, .timeout, "no reply within the deadline (\(record.attempts) attempts)", state: .expired))]
        }
        if record.state == .received {
            guard !stopping else { return [] }
            let wake = attemptWake(attempt: record.attempts + 1, now: now, of: record)
            return [.startAttempt(id: record.id, afterAttempts: record.attempts, wakeAt: wake)]
        }
        let maxAttempts = configuration.settings(for: record.kind, record.operation)?.maxAttempts ?? 1
        guard record.attempts < maxAttempts else {
            return [.finish(Self.errorOutcome(record.id, .timeout, "no reply after \(record.attempts) attempts", state: .expired))]
        }
        return [
            .count(.retry),
            .retry(id: record.id, attempt: record.attempts, wakeAt: min(now + backoff(afterAttempt: record.attempts), record.deadline)),
            .log(LogLine(.debug, "attempt timed out, retrying", ["request.id": record.id, "attempt": "\(record.attempts)"])),
        ]
    }
}
