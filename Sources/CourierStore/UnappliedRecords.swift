import CourierCore

/// The newest version of every record written to the intake journal but not yet applied to the
/// SQLite file: what the store reads before the file, since these versions are newer.
///
/// Each version has a number, so that applying a snapshot forgets only the versions it applied
/// (``forget(_:)``): a record changed again meanwhile stays, to be applied next time.
///
/// A class, used under the store's write lock only: a transaction reads it while the store
/// holds it, and a value would be copied whole at the first change after that.
final class UnappliedRecords {
    private var records: [String: (record: RequestRecord, version: UInt64)] = [:]
    private var identities: [String: String] = [:]
    /// Ids whose newest version a timer or the delivery sweep may still want: pending, or
    /// final with a reply not yet published. Most requests leave it within milliseconds, so
    /// the timers' query, every tick, looks at a few records instead of every unapplied one.
    private var unsettled: Set<String> = []
    private var lastVersion: UInt64 = 0

    var count: Int { records.count }

    /// The record with this id, if it has an unapplied version.
    subscript(id id: String) -> RequestRecord? { records[id]?.record }

    /// The record with this identity, if it has an unapplied version.
    subscript(identity identity: String) -> RequestRecord? {
        identities[identity].flatMap { records[$0]?.record }
    }

    /// Whether the record with this id has an unapplied version.
    func contains(_ id: String) -> Bool { records[id] != nil }

    /// Every unapplied record.
    var all: some Sequence<RequestRecord> { records.values.lazy.map(\.record) }

    /// The unapplied records that are pending, or final with a reply still to publish.
    var unsettledRecords: [RequestRecord] { unsettled.compactMap { records[$0]?.record } }

    /// Makes `record` its id's newest version.
    func put(_ record: RequestRecord) {
        lastVersion += 1
        if let old = records[record.id]?.record.identity, old != record.identity {
            identities[old] = nil
        }
        if let identity = record.identity {
            identities[identity] = record.id
        }
        records[record.id] = (record, lastVersion)
        if !record.state.isFinal || record.isUndelivered {
            unsettled.insert(record.id)
        } else {
            unsettled.remove(record.id)
        }
    }

    /// The versions to apply, oldest first.
    func snapshot() -> [(record: RequestRecord, version: UInt64)] {
        records.values.sorted { $0.version < $1.version }
    }

    /// Forgets the versions of `applied` that are still the newest.
    func forget(_ applied: [(record: RequestRecord, version: UInt64)]) {
        for (record, version) in applied where records[record.id]?.version == version {
            records[record.id] = nil
            unsettled.remove(record.id)
            if let identity = record.identity, identities[identity] == record.id {
                identities[identity] = nil
            }
        }
    }
}
