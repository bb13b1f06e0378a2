import Foundation

/// What the store did with a record.
package enum AcceptOutcome: Sendable, Equatable {
    /// Inserted.
    case accepted
    /// Not inserted: a record with the same identity is stored; here it is.
    case duplicate(RequestRecord)
    /// Not inserted: the device already has `pending` pending requests.
    case deviceOverQuota(pending: Int)
    /// Not inserted: the store already holds `pending` pending requests.
    case totalOverQuota(pending: Int)
}
