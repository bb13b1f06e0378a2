import CourierCore
import Foundation
import GRDB
import Synchronization

/// The durable store of requests (pending correlations and their outcomes): one SQLite file
/// accessed through a GRDB `DatabasePool`, written behind an intake journal.
///
/// Writes: a write decides its record versions in memory, appends them to the intake journal
/// (``IntakeJournal``, one `write(2)` per group commit) and returns. A thread of the store's own
/// applies the journaled versions to the SQLite file in large transactions, every few
/// milliseconds, so a request's insert, outcome and delivery mark usually reach the file as one
/// row insert. Reads see the versions not yet applied before the file's.
///
/// Durability: a write that returned survives a crash of the process (including SIGKILL): the
/// journal is replayed into the file when the store opens again. Neither the journal nor the
/// database (WAL mode, `synchronous = NORMAL`) syncs at commit, so the last writes before a
/// power loss or OS crash may be lost (never corrupted).
///
/// Every method is synchronous and may block on disk I/O; writes are serialized, reads run
/// concurrently with the applying thread. One process writes a store (the journal directory's
/// lock says which): the quota checks read pending counts that this object keeps in memory
/// (counted from the file when it opens), not the file.
package final class SQLiteStore: Sendable {
    let pool: DatabasePool
    /// Reads of single records and timers, outside transactions, under the write lock.
    let file: DatabaseQueue
    let writes: Mutex<Writes>
    /// Held while the journal is applied: one apply at a time.
    let applying = Mutex(())
    /// `<path>.intake`, the journal's directory.
    let journalDirectory: String
    private let applier: PeriodicThread
    private let checkpointer: Checkpointer?

    /// What the writers share: the journal, the versions not yet applied, the keys stored, the
    /// pending counts.
    struct Writes {
        var journal: IntakeJournal?
        let unapplied = UnappliedRecords()
        /// Nil until the applying thread has read the file's keys: built there, not at start-up.
        var keys: KeyFilter?
        /// Pending requests per device and in all, as of the last write.
        var pending: PendingCounts
    }

    /// The file this store was opened on.
    package let path: String

    /// Unapplied versions beyond which a write applies them itself before going on.
    static let unappliedLimit = 50_000

    /// Opens (creating it and its parent directories if needed) the store at `path`, brings
    /// its schema up to date and applies what its journal (`<path>.intake/`) still holds.
    ///
    /// - Parameter checkpointInterval: with a value, a thread of the store's own moves committed
    ///   transactions from the WAL into the database file this often, so that writers never
    ///   pay for it; nil leaves it to SQLite's automatic checkpoint, which
    ///   the committing writer runs every 64 MB of WAL.
    /// - Parameter applyInterval: how often the journal is applied to the file.
    package init(path: String, checkpointInterval: Duration? = nil, applyInterval: Duration = .milliseconds(50)) throws {
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)

        var configuration = Configuration()
        configuration.journalMode = .wal
        // Wait for a lock held by another process (the sqlite3 shell) instead of failing at once.
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // 4 KB pages and a 16 MB cache for the thread that applies the journal: an apply
            // writes a few hundred requests, appended to the table and most indexes, so larger
            // pages mean fewer WAL frames (two `pwrite`s each), and a cache that holds all its
            // dirty pages never spills them before the commit (Benchmarks/README.md). The page
            // size takes effect when the file is created.
            try db.execute(sql: "PRAGMA page_size = 4096")
            try db.execute(sql: "PRAGMA cache_size = -16384")
            // In WAL mode, NORMAL syncs at checkpoints only: committed transactions survive a
            // process crash, not necessarily a power loss.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Checkpoints are the only fsyncs in WAL mode with synchronous = NORMAL. The
            // automatic one, run by a committing writer, is the backstop for the checkpoint
            // thread, at 16,384 pages (64 MB of 4 KB pages; a file created with 1 KB pages by
            // an older Courier keeps them, and checkpoints at 16 MB); the WAL file is truncated
            // back to 64 MB after it is reset.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 16384")
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
        }
        configuration.label = "courier.store"

        self.path = path
        journalDirectory = path + ".intake"
        // The journal's lock first: it says this process is the one writer.
        let journal = try IntakeJournal(directory: journalDirectory)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
            let applied = try Self.replay(journalDirectory, into: pool)
            try journal.start(segment: applied + 1)
            var reading = Configuration()
            reading.readonly = true
            reading.label = "courier.store.lookups"
            file = try DatabaseQueue(path: path, configuration: reading)
            writes = Mutex(Writes(journal: journal, pending: try pool.read(Self.countPending)))
        } catch {
            journal.close()
            throw error
        }
        applier = PeriodicThread(name: "courier.apply", interval: applyInterval, niceness: 10)
        checkpointer = try checkpointInterval.map { interval in try Checkpointer(path: path, interval: interval) }
        applier.start { [weak self] in
            try? self?.apply()
            try? self?.refreshKeys()
        }
    }

    /// Applies what is left of the journal, stops the store's threads and closes the database
    /// connections. Any later call but `close()` throws.
    package func close() throws {
        guard writes.withLock({ $0.journal != nil }) else { return }
        applier.stop()
        defer {
            writes.withLock { writes in
                writes.journal?.close()
                writes.journal = nil
            }
        }
        try apply()
        try checkpointer?.stop()
        try file.close()
        try pool.close()
    }

    // MARK: Intake

    /// Records a new request unless it is a duplicate or over quota.
    ///
    /// In order: a record whose `identity` is already stored yields `.duplicate` with the stored
    /// record; a pending record (state received or dispatched) is refused when its device already
    /// has `maxPendingPerDevice` pending requests, then when the store holds `maxPendingTotal`;
    /// otherwise it is inserted. Records in a final state (a rejection) skip the quota checks but
    /// are still deduplicated. Throws ``StoreError/idTaken(_:)`` for an id already stored.
    package func accept(
        _ record: RequestRecord,
        maxPendingPerDevice: Int,
        maxPendingTotal: Int
    ) throws -> AcceptOutcome {
        try accept([record], maxPendingPerDevice: maxPendingPerDevice, maxPendingTotal: maxPendingTotal)[0]
    }

    /// ``accept(_:maxPendingPerDevice:maxPendingTotal:)`` for many records, in order, in one
    /// write (a group commit): a record sees the ones before it, so a duplicate within the
    /// batch is found and the quotas count the batch's own records.
    package func accept(
        _ records: [RequestRecord],
        maxPendingPerDevice: Int,
        maxPendingTotal: Int
    ) throws -> [AcceptOutcome] {
        try write(versions: records.count) { transaction, pending in
            try records.map { try Self.accept($0, &transaction, pending, maxPendingPerDevice: maxPendingPerDevice, maxPendingTotal: maxPendingTotal) }
        }
    }

    /// One group commit: new requests (as ``accept(_:maxPendingPerDevice:maxPendingTotal:)``),
    /// then final outcomes and delivery marks (as ``finish(_:markingDelivered:now:)``), all in
    /// one write. Returns the requests' outcomes and the finished records, in order.
    package func commit(
        accepting records: [RequestRecord],
        maxPendingPerDevice: Int,
        maxPendingTotal: Int,
        finishing outcomes: [FinalOutcome],
        markingDelivered delivered: [String],
        now: Int64
    ) throws -> (accepted: [AcceptOutcome], finished: [RequestRecord?]) {
        try write(versions: records.count + outcomes.count + delivered.count) { transaction, pending in
            let accepted = try records.map {
                try Self.accept($0, &transaction, pending, maxPendingPerDevice: maxPendingPerDevice, maxPendingTotal: maxPendingTotal)
            }
            let finished = try outcomes.map { try Self.finish($0, &transaction, now: now) }
            try Self.markDelivered(delivered, &transaction, now: now)
            return (accepted, finished)
        }
    }

    /// Decides one record within a write.
    private static func accept(
        _ record: RequestRecord, _ transaction: inout StoreTransaction, _ pending: PendingCounts,
        maxPendingPerDevice: Int, maxPendingTotal: Int
    ) throws -> AcceptOutcome {
        let conflict = try transaction.conflict(with: record)
        if let existing = conflict.duplicate { return .duplicate(existing) }
        if !record.state.isFinal {
            let device = pending[record.device] + transaction.changes[record.device]
            if device >= maxPendingPerDevice { return .deviceOverQuota(pending: device) }
            let total = pending.total + transaction.changes.total
            if total >= maxPendingTotal { return .totalOverQuota(pending: total) }
        }
        guard !conflict.idTaken else { throw StoreError.idTaken(record.id) }
        transaction.insert(record)
        return .accepted
    }

    /// A write: `body` decides its record versions (about `versions` of them) in a transaction,
    /// given the pending counts before it; they are journaled and become the newest versions,
    /// or, if `body` or the journal throws, nothing changes.
    func write<T>(versions: Int = 1, _ body: (inout StoreTransaction, PendingCounts) throws -> T) throws -> T {
        if writes.withLock({ $0.unapplied.count }) > Self.unappliedLimit { try apply() }
        return try writes.withLock { writes in
            guard let journal = writes.journal else { throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "the store is closed") }
            var transaction = StoreTransaction(unapplied: writes.unapplied, keys: writes.keys, file: file, versions: versions)
            let result = try body(&transaction, writes.pending)
            let records = transaction.records
            guard !records.isEmpty else { return result }
            try journal.append(transaction.frames)
            for record in records {
                writes.unapplied.put(record)
            }
            for record in transaction.inserted {
                writes.keys?.insert(record)
            }
            writes.pending.add(transaction.changes)
            return result
        }
    }

    /// Pending requests per device, counted from the file (when it opens).
    private static func countPending(_ db: Database) throws -> PendingCounts {
        var counts = PendingCounts()
        let rows = try Row.fetchCursor(
            db, sql: "SELECT device, COUNT(*) FROM requests WHERE state IN \(RequestState.pendingSQL) GROUP BY device")
        while let row = try rows.next() {
            counts.add(row[1], device: row[0])
        }
        return counts
    }

    // MARK: Lookup

    /// The record with this bridge id.
    package func record(id: String) throws -> RequestRecord? {
        try writes.withLock { writes in
            try writes.unapplied[id: id] ?? file.inDatabase { db in try Self.fetch(db, id: id) }
        }
    }

    /// The record with this duplicate-suppression identity.
    package func record(identity: String) throws -> RequestRecord? {
        try writes.withLock { writes in
            try writes.unapplied[identity: identity] ?? file.inDatabase { db in try Self.fetch(db, identity: identity) }
        }
    }

    static func fetch(_ db: Database, id: String) throws -> RequestRecord? {
        let statement = try db.cachedStatement(sql: "SELECT * FROM requests WHERE id = ?")
        return try RequestRow.fetchOne(statement, arguments: [id])?.record
    }

    static func fetch(_ db: Database, identity: String) throws -> RequestRecord? {
        let statement = try db.cachedStatement(sql: "SELECT * FROM requests WHERE identityHash = ? AND identity = ?")
        return try RequestRow.fetchOne(statement, arguments: [IdentityHash.of(identity), identity])?.record
    }
}
