import CourierCore

/// What the bridge needs from a durable store of requests: the pending correlations, their
/// timers and their outcomes. ``SQLiteStore`` is the embedded one; `PostgresStore` (in
/// CourierPostgres), a database that several bridges can share, implements the same contract.
///
/// Every method is synchronous, runs in one transaction and may block on I/O. Transitions
/// are compare-and-set on the record's state, so a late or repeated event changes nothing.
package protocol RequestStore: Sendable {
    /// Where the store lives, for logs: a file path or a URL without credentials.
    var location: String { get }

    /// One group commit: inserts new requests (checking duplicates and quotas), applies final
    /// outcomes to requests still pending, and marks replies delivered.
    func commit(
        accepting records: [RequestRecord],
        maxPendingPerDevice: Int,
        maxPendingTotal: Int,
        finishing outcomes: [FinalOutcome],
        markingDelivered delivered: [String],
        now: Int64
    ) throws -> (accepted: [AcceptOutcome], finished: [RequestRecord?])

    /// Applies final outcomes to the requests still pending; the stored records, nil where not.
    func finish(_ outcomes: [FinalOutcome], markingDelivered delivered: [String], now: Int64) throws -> [RequestRecord?]

    /// Moves a request waiting in `received` after `afterAttempts` attempts to its next attempt.
    func claimAttempt(id: String, afterAttempts: Int, wakeAt: Int64, now: Int64) throws -> RequestRecord?

    /// Puts a timed-out attempt back to `received`, to start again at `wakeAt`.
    func requeue(id: String, attempt: Int, wakeAt: Int64, now: Int64) throws -> RequestRecord?

    /// Moves the timer of attempt `attempt` to `wakeAt` (a worker said it is still working),
    /// if that attempt is still the running one. `acknowledged` (a device's 202 to a command)
    /// also sets the pending record's `replyStatus` to 202.
    func extendAttempt(id: String, attempt: Int, wakeAt: Int64, acknowledged: Bool, now: Int64) throws -> RequestRecord?

    /// Pending requests whose timer is due at `now`, earliest first.
    func due(now: Int64, limit: Int) throws -> [RequestRecord]

    /// Final replies not yet acknowledged by the broker, oldest first.
    func undelivered(limit: Int) throws -> [RequestRecord]

    func pendingCount() throws -> Int
    func record(id: String) throws -> RequestRecord?
    func record(identity: String) throws -> RequestRecord?

    /// Requests matching the query, newest first, and the cursor of the next page.
    func list(_ query: RequestQuery) throws -> (records: [RequestRecord], next: String?)

    /// Dead letters (state `failed` or `rejected`), paged like ``list(_:)``.
    func deadLetters(limit: Int, before: String?) throws -> (records: [RequestRecord], next: String?)

    /// Outcomes of requests that reached a final state after `since` (unix ms).
    func outcomes(finishedAfter since: Int64, limit: Int) throws -> [RequestOutcome]

    /// Deletes up to `limit` finished requests older than their retention; how many went.
    func purge(finishedBefore cutoff: Int64, deadLettersBefore deadLetterCutoff: Int64, limit: Int) throws -> Int

    /// Closes the store; any later call throws.
    func close() throws
}

extension RequestStore {
    package func finish(_ outcomes: [FinalOutcome], now: Int64) throws -> [RequestRecord?] {
        try finish(outcomes, markingDelivered: [], now: now)
    }

    package func outcomes(finishedAfter since: Int64) throws -> [RequestOutcome] {
        try outcomes(finishedAfter: since, limit: 100_000)
    }
}

extension SQLiteStore: RequestStore {
    package var location: String { path }
}
