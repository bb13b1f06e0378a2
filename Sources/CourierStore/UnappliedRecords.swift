import CourierCore

/// The newest version of every record written to the intake journal but not yet applied to the
/// SQLite file: what the store reads before the file, since these versions are newer.
///
/// Two generations: versions written since the last apply began (`current`), and those an apply
/// is writing to the file now (`applying`), which `current` shadows. Starting and ending an
/// apply swaps generations, so the store's write lock is never held for work that grows with
/// the number of records: the applying thread reads its generation, and releases it, outside
/// the lock (a lock held while a nice-10 thread copies thousands of records stalls the network
/// thread behind it).
///
/// A class, used under the store's write lock only: a transaction reads it while the store
/// holds it, and a value would be copied whole at the first change after that.
final class UnappliedRecords {
    /// One generation's versions. `version` orders them as they were written.
    struct Generation {
        fileprivate(set) var records: [String: (record: RequestRecord, version: UInt64)] = [:]
        fileprivate var identities: [String: String] = [:]
        /// The earliest `updatedAt` of a final version here, shadowed or not.
        fileprivate var earliestFinal: Int64?

        /// Room for `capacity` records: a generation filled from empty would hash each key
        /// again at every doubling of its tables.
        fileprivate init(capacity: Int = 0) {
            records.reserveCapacity(capacity)
            identities.reserveCapacity(capacity)
        }

        var isEmpty: Bool { records.isEmpty }

        /// The versions, oldest first.
        var inOrder: [RequestRecord] {
            records.values.sorted { $0.version < $1.version }.map(\.record)
        }
    }

    private var current = Generation()
    private var applying = Generation()
    private var lastVersion: UInt64 = 0

    /// How many versions wait, counting a record in both generations twice.
    var count: Int { current.records.count + applying.records.count }

    /// The record with this id, if it has an unapplied version.
    subscript(id id: String) -> RequestRecord? {
        current.records[id]?.record ?? applying.records[id]?.record
    }

    /// The record with this identity, if it has an unapplied version.
    subscript(identity identity: String) -> RequestRecord? {
        if let id = current.identities[identity] { return current.records[id]?.record }
        // The applying version may be out of date: only the newest version counts.
        guard let id = applying.identities[identity], let record = self[id: id], record.identity == identity else { return nil }
        return record
    }

    /// Whether the record with this id has an unapplied version.
    func contains(_ id: String) -> Bool { current.records[id] != nil || applying.records[id] != nil }

    /// Calls `body` with every unapplied record, each in its newest version.
    func forEach(_ body: (RequestRecord) -> Void) {
        for entry in current.records.values { body(entry.record) }
        for (id, entry) in applying.records where current.records[id] == nil { body(entry.record) }
    }

    /// Whether a final version older than `cutoff` may be unapplied: the retention purge
    /// applies the journal first when so. In constant time, for the network thread; it may
    /// say yes for a version something newer shadows.
    func mayHoldFinal(before cutoff: Int64) -> Bool {
        [current.earliestFinal, applying.earliestFinal].contains { $0.map { $0 < cutoff } ?? false }
    }

    /// The unapplied records that a timer or the delivery sweep may still want: pending, or
    /// final with a reply still to publish. A scan, for the timers' query each tick: cheaper
    /// than keeping a set on every write, since a generation holds one apply interval's records.
    var unsettledRecords: [RequestRecord] {
        var records: [RequestRecord] = []
        forEach { record in
            if !record.state.isFinal || record.isUndelivered { records.append(record) }
        }
        return records
    }

    /// Makes `record` its id's newest version.
    func put(_ record: RequestRecord) {
        lastVersion += 1
        let old = current.records.updateValue((record, lastVersion), forKey: record.id)?.record
        if let identity = old?.identity, identity != record.identity {
            current.identities[identity] = nil
        }
        if let identity = record.identity, identity != old?.identity {
            current.identities[identity] = record.id
        }
        if record.state.isFinal {
            current.earliestFinal = min(current.earliestFinal ?? record.updatedAt, record.updatedAt)
        }
    }

    /// Starts an apply: what was written so far becomes the applying generation, returned for
    /// the caller to write to the file. Call ``finishApplying(succeeded:)`` after, whether it succeeded
    /// or not.
    func startApplying() -> Generation {
        precondition(applying.isEmpty, "an apply is already under way")
        swap(&current, &applying)
        return applying
    }

    /// Ends an apply. After a failed one, its versions that nothing newer shadows go back to
    /// the current generation, to be applied next time. Returns the generation it ended, for
    /// the caller to release outside the lock.
    func finishApplying(succeeded: Bool) -> Generation {
        defer { applying = Generation(capacity: applying.records.count) }
        guard !succeeded else { return applying }
        for (id, entry) in applying.records where current.records[id] == nil {
            current.records[id] = entry
            if let identity = entry.record.identity, current.identities[identity] == nil {
                current.identities[identity] = id
            }
        }
        if let earliest = applying.earliestFinal {
            current.earliestFinal = min(current.earliestFinal ?? earliest, earliest)
        }
        return applying
    }
}
