import CourierCore
import Foundation
import GRDB
import Synchronization

/// The durable store of requests (pending correlations and their outcomes): one SQLite file
/// accessed through a GRDB `DatabasePool`.
///
/// Durability: the database runs in WAL mode with `synchronous = NORMAL`. A committed write
/// survives a crash of the process (including SIGKILL), which is the guarantee Courier makes; the
/// last transactions before a power loss or OS crash may be rolled back (never corrupted).
///
/// Every method is synchronous and may block on disk I/O; writes are serialized, reads run
/// concurrently with them. Each method runs in one transaction.
///
/// One process writes a store file: the quota checks read pending counts that this object
/// keeps in memory (counted from the file when it opens), not the file.
public final class SQLiteStore: Sendable {
    let pool: DatabasePool
    private let checkpointer: Checkpointer?
    /// Pending requests per device and in all, as of the last committed write.
    let pending: Mutex<PendingCounts>

    /// The file this store was opened on.
    public let path: String

    /// Opens (creating it and its parent directories if needed) the store at `path` and brings
    /// its schema up to date.
    ///
    /// - Parameter checkpointInterval: with a value, a thread of the store's own moves committed
    ///   transactions from the WAL into the database file this often, so that writers never
    ///   pay for it; nil leaves it to SQLite's automatic checkpoint, which
    ///   the committing writer runs every 64 MB of WAL.
    public init(path: String, checkpointInterval: Duration? = nil) throws {
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)

        var configuration = Configuration()
        configuration.journalMode = .wal
        // Wait for a lock held by another process (a second bridge on the same file, the sqlite3
        // shell) instead of failing at once.
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // Small pages: a commit writes every page it changed to the WAL, and a request
            // changes a few small rows in a few indexes. Takes effect when the file is created.
            try db.execute(sql: "PRAGMA page_size = 1024")
            // In WAL mode, NORMAL syncs at checkpoints only: committed transactions survive a
            // process crash, not necessarily a power loss.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // SQLite's default page cache (2 MB a connection), not more: profiled, the commits
            // spent a good part of their time walking the cache's hash table (libsqlite3 3.40's
            // pcache1 truncation), so a 16 MB cache cost more CPU than the reads it saved
            // (Benchmarks/README.md).
            // Checkpoints are the only fsyncs in WAL mode with synchronous = NORMAL. The
            // automatic one, run by a committing writer, is the backstop for the checkpoint
            // thread; the WAL file is truncated back to 64 MB after it is reset.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 65536")
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
        }
        configuration.label = "courier.store"

        self.path = path
        self.pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
        pending = Mutex(try pool.read(Self.countPending))
        checkpointer = try checkpointInterval.map { interval in try Checkpointer(path: path, interval: interval) }
    }

    /// Stops the checkpoint thread and closes the database connections. Any later call throws.
    public func close() throws {
        try checkpointer?.stop()
        try pool.close()
    }

    // MARK: Intake

    /// Records a new request unless it is a duplicate or over quota, deciding and inserting in
    /// one write transaction.
    ///
    /// In order: a record whose `identity` is already stored yields `.duplicate` with the stored
    /// record; a pending record (state received or dispatched) is refused when its device already
    /// has `maxPendingPerDevice` pending requests, then when the store holds `maxPendingTotal`;
    /// otherwise it is inserted. Records in a final state (a rejection) skip the quota checks but
    /// are still deduplicated.
    public func accept(
        _ record: RequestRecord,
        maxPendingPerDevice: Int,
        maxPendingTotal: Int
    ) throws -> AcceptOutcome {
        try accept([record], maxPendingPerDevice: maxPendingPerDevice, maxPendingTotal: maxPendingTotal)[0]
    }

    /// ``accept(_:maxPendingPerDevice:maxPendingTotal:)`` for many records, in order, in one
    /// transaction (a group commit): a record sees the ones before it, so a duplicate within the
    /// batch is found and the quotas count the batch's own records.
    public func accept(
        _ records: [RequestRecord],
        maxPendingPerDevice: Int,
        maxPendingTotal: Int
    ) throws -> [AcceptOutcome] {
        try write { db, changes in
            try records.map { try accept(db, $0, maxPendingPerDevice: maxPendingPerDevice, maxPendingTotal: maxPendingTotal, &changes) }
        }
    }

    /// One group commit: new requests (as ``accept(_:maxPendingPerDevice:maxPendingTotal:)``),
    /// then final outcomes and delivery marks (as ``finish(_:markingDelivered:now:)``), all in
    /// one transaction. Returns the requests' outcomes and the finished records, in order.
    public func commit(
        accepting records: [RequestRecord],
        maxPendingPerDevice: Int,
        maxPendingTotal: Int,
        finishing outcomes: [FinalOutcome],
        markingDelivered delivered: [String],
        now: Int64
    ) throws -> (accepted: [AcceptOutcome], finished: [RequestRecord?]) {
        try write { db, changes in
            let accepted = try records.map {
                try accept(db, $0, maxPendingPerDevice: maxPendingPerDevice, maxPendingTotal: maxPendingTotal, &changes)
            }
            let finished = try outcomes.map { try Self.finish(db, $0, now: now, &changes) }
            try Self.markDelivered(db, ids: delivered, now: now)
            return (accepted, finished)
        }
    }

    /// Decides and inserts one record within a write. The duplicate check is the insert itself
    /// (the identity index is unique): the stored record is read only when the insert found
    /// one, or when a quota refuses the record, which a duplicate is never.
    private func accept(
        _ db: Database, _ record: RequestRecord, maxPendingPerDevice: Int, maxPendingTotal: Int, _ changes: inout PendingCounts
    ) throws -> AcceptOutcome {
        if record.state.isFinal {
            return try RequestRow(record).insertUnlessStored(db) ? .accepted : try duplicate(db, of: record)
        }
        let counts = pending.withLock { ($0[record.device], $0.total) }
        let device = counts.0 + changes[record.device]
        if device >= maxPendingPerDevice {
            return try existing(db, identity: record.identity).map(AcceptOutcome.duplicate) ?? .deviceOverQuota(pending: device)
        }
        let total = counts.1 + changes.total
        if total >= maxPendingTotal {
            return try existing(db, identity: record.identity).map(AcceptOutcome.duplicate) ?? .totalOverQuota(pending: total)
        }
        guard try RequestRow(record).insertUnlessStored(db) else { return try duplicate(db, of: record) }
        changes.add(1, device: record.device)
        return .accepted
    }

    /// The stored record whose identity `record` has: the insert of `record` found one (or,
    /// with no record of that identity, one with its id).
    private func duplicate(_ db: Database, of record: RequestRecord) throws -> AcceptOutcome {
        guard let existing = try existing(db, identity: record.identity) else { throw StoreError.idTaken(record.id) }
        return .duplicate(existing)
    }

    private func existing(_ db: Database, identity: String?) throws -> RequestRecord? {
        guard let identity else { return nil }
        return try Self.fetch(db, identity: identity)
    }

    /// A write transaction that may change pending counts: `body` records its changes, which
    /// take effect once the transaction commits (and not when it fails).
    func write<T>(_ body: (Database, inout PendingCounts) throws -> T) throws -> T {
        var changes = PendingCounts()
        let result = try pool.write { db in try body(db, &changes) }
        pending.withLock { $0.add(changes) }
        return result
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
    public func record(id: String) throws -> RequestRecord? {
        try pool.read { db in try Self.fetch(db, id: id) }
    }

    /// The record with this duplicate-suppression identity.
    public func record(identity: String) throws -> RequestRecord? {
        try pool.read { db in try Self.fetch(db, identity: identity) }
    }

    static func fetch(_ db: Database, id: String) throws -> RequestRecord? {
        let statement = try db.cachedStatement(sql: "SELECT * FROM requests WHERE id = ?")
        return try RequestRow.fetchOne(statement, arguments: [id])?.record
    }

    static func fetch(_ db: Database, identity: String) throws -> RequestRecord? {
        let statement = try db.cachedStatement(sql: "SELECT * FROM requests WHERE identity = ?")
        return try RequestRow.fetchOne(statement, arguments: [identity])?.record
    }
}
