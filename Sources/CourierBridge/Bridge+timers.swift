import CourierCore
import CourierEngine
import CourierStore
import Foundation

extension Bridge {
    /// The timer loop: every tick it hands a pass to the network thread (the store's one
    /// writer): due timers (attempt timeouts, retries, deadlines), and now and then the
    /// delivery sweep. Timers live in the store (`wakeAt`), so memory stays bounded and a
    /// restarted bridge resumes them.
    func runTimers(tick: Duration = .milliseconds(50)) async {
        var lastSweep = ContinuousClock.now
        while !Task.isCancelled {
            let sweep = ContinuousClock.now - lastSweep > .seconds(5)
            if sweep { lastSweep = .now }
            await onNetworkThread(closed: ()) { [self] in
                // Delivery marks ride along with other commits; on a quiet bridge, here.
                commits.drain()
                fireDueTimers()
                for reply in progress.due(now: unixMillis()) { publishProgress(reply) }
                if sweep {
                    sweepUndelivered(olderThan: 5000)
                    metrics.pending.record((try? store.pendingCount()) ?? 0)
                }
            }
            try? await Task.sleep(for: tick)
        }
    }

    /// The retention purge, beside the timer loop and off the network thread: a batch every
    /// second, then a batch a tick while there is more (one transaction purging a minute of a
    /// busy bridge's requests held the writer for seconds).
    func runPurges(tick: Duration = .milliseconds(50)) async {
        var more = false
        while true {
            try? await Task.sleep(for: more ? tick : .seconds(1))
            if Task.isCancelled { return }
            more = await purgeBatch() == Self.purgeBatch
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
        let stopping = isStopping
        for record in due {
            perform(engine.timerFired(record, now: now, stopping: stopping))
        }
        // Deadlines and given-up attempts in one transaction.
        commits.drain()
    }

    /// Purges one batch of what retention no longer keeps, on the housekeeping queue; how
    /// many went. It deletes only final records past retention, which nothing on the network
    /// thread holds.
    private func purgeBatch() async -> Int {
        await withCheckedContinuation { continuation in
            housekeeping.async { [self] in
                let now = unixMillis()
                let purged = try? store.purge(
                    finishedBefore: now - configuration.store.retention.milliseconds,
                    deadLettersBefore: now - configuration.store.deadLetterRetention.milliseconds,
                    limit: Self.purgeBatch
                )
                continuation.resume(returning: purged ?? 0)
            }
        }
    }

    /// Finished requests purged in one transaction.
    static let purgeBatch = 500

    /// Publishes again final replies the broker never acknowledged (after a crash, a broker
    /// outage); `olderThan` skips replies that may still be in flight.
    func sweepUndelivered(olderThan age: Int64?) {
        let cutoff = age.map { unixMillis() - $0 } ?? .max
        guard let records = try? store.undelivered(limit: 1000) else { return }
        for record in records where record.updatedAt <= cutoff {
            perform(engine.redeliver(record))
        }
    }
}
