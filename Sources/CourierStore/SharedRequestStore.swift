import CourierCore

/// A store that several bridges share (PostgreSQL). Each pending request, and each final
/// reply not yet delivered, belongs to one bridge: the one that stored it, until another takes
/// it over. A bridge's timers and delivery sweep see only its own (``RequestStore/due(now:limit:)``
/// and ``RequestStore/undelivered(limit:)``); status queries, results, duplicates and cancels
/// see every request, whichever bridge owns it.
///
/// Ownership rests on leases: a bridge renews its own while it lives; when one lapses, the
/// first bridge to notice takes over the lapsed bridge's requests, in one transaction, so no
/// request is ever worked by two bridges' timers.
package protocol SharedRequestStore: RequestStore {
    /// The bridge this store instance works for.
    var bridgeID: String { get }

    /// Holds this bridge's lease until `expiresAt` (unix ms). False when it held none: on the
    /// first call, and after another bridge took this one's requests over.
    func renewLease(expiresAt: Int64, now: Int64) throws -> Bool

    /// Ends this bridge's lease now (a clean stop), so that another bridge takes its requests
    /// over at its next look instead of after the lease timeout.
    func releaseLease() throws

    /// Takes over the requests of every other bridge whose lease lapsed before `now`, and the
    /// requests of no bridge (stored before leases existed). What was taken, by bridge.
    func takeOverLapsedLeases(now: Int64) throws -> [Takeover]
}

/// The requests one bridge took over from another whose lease had lapsed.
package struct Takeover: Sendable, Equatable {
    /// The bridge whose lease lapsed; nil for requests that had no owner.
    package var bridgeID: String?
    /// Pending requests and undelivered final replies taken over.
    package var requests: Int

    package init(bridgeID: String?, requests: Int) {
        self.bridgeID = bridgeID
        self.requests = requests
    }
}
