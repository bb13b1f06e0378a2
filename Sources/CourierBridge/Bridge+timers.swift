import CourierCore
import CourierStore
import Foundation

extension Bridge {
    /// The timer loop: attempt timeouts, retries with jittered backoff, deadlines, the
    /// delivery sweep and the retention purge. Timers live in the store (`wakeAt`), so memory
    /// stays bounded and a restarted bridge resumes them.
    func runTimers(tick: Duration = .milliseconds(50)) async {
        var lastSweep = ContinuousClock.now
        var lastPurge = ContinuousClock.now
        var purging = false
        while !Task.isCancelled {
            // Delivery marks ride along with other commits; on a quiet bridge, here.
            commits.flushSoon()
            fireDueTimers()
            if ContinuousClock.now - lastSweep > .seconds(5) {
                sweepUndelivered(olderThan: 5000)
                metrics.pending.record((try? store.pendingCount()) ?? 0)
                lastSweep = .now
            }
            // Every second, then a batch a tick while there is more: one transaction purging a
            // minute of a busy bridge's requests held the writer for seconds.
            if purging || ContinuousClock.now - lastPurge > .seconds(1) {
                let now = unixMillis()
                let purged = (try? store.purge(
                    finishedBefore: now - configuration.store.retention.milliseconds,
                    deadLettersBefore: now - configuration.store.deadLetterRetention.milliseconds,
                    limit: Self.purgeBatch
                )) ?? 0
                purging = purged == Self.purgeBatch
                lastPurge = .now
            }
            try? await Task.sleep(for: tick)
        }
    }

    private func fireDueTimers() {
        let now = unixMillis()
        let due: [RequestRecord]
        do {
            due = try store.due(now: now, limit: 1000)
        } catch {
            logger.error("store read failed", metadata: ["error": "\(error)"])
            return
        }
        for record in due {
            let operation = configuration.operation(named: record.operation)
            if now >= record.deadline {
                finish(record.id, code: .timeout, message: "no reply within the deadline (\(record.attempts) attempts)", state: .expired)
            } else if record.state == .received {
                if !isStopping { startAttempt(record) }
            } else if record.attempts < (operation?.maxAttempts ?? 1) {
                metrics.retries.increment()
                let backoff = Self.backoff(attempt: record.attempts)
                _ = try? store.requeue(id: record.id, attempt: record.attempts, wakeAt: min(now + backoff, record.deadline), now: now)
                logger.debug("attempt timed out, retrying", metadata: ["request.id": "\(record.id)", "attempt": "\(record.attempts)"])
            } else {
                finish(record.id, code: .timeout, message: "no reply after \(record.attempts) attempts", state: .expired)
            }
        }
    }

    /// Finished requests purged in one transaction.
    static let purgeBatch = 500

    /// Full-jitter exponential backoff: up to 100 ms, 200 ms, 400 ms... capped at 2 s.
    static func backoff(attempt: Int) -> Int64 {
        let ceiling = min(2000, 100 << min(max(attempt - 1, 0), 5))
        return Int64.random(in: 0...Int64(ceiling))
    }

    /// Publishes again final replies the broker never acknowledged (after a crash, a broker
    /// outage); `olderThan` skips replies that may still be in flight.
    func sweepUndelivered(olderThan age: Int64?) {
        let cutoff = age.map { unixMillis() - $0 } ?? .max
        guard let records = try? store.undelivered(limit: 1000) else { return }
        for record in records where record.updatedAt <= cutoff {
            if let reply = DeviceReply.final(for: record, topics: topics) {
                publish(reply, recordID: record.id)
            }
        }
    }
}
