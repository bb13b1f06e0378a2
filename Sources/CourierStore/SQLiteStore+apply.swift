import CourierCore
import GRDB

extension SQLiteStore {
    /// Applies every journaled version to the SQLite file in one transaction, with the number
    /// of the last journal segment it covers; then deletes the segments it covered. The store's
    /// applying thread calls it every interval, reads that need the file up to date call it
    /// first, and a write calls it when too much is waiting.
    func apply() throws {
        try applying.withLock { _ in
            // Under the write lock only to swap generations: the records are read, and later
            // released, outside it.
            let taken = try writes.withLock { writes -> (generation: UnappliedRecords.Generation, segment: UInt64)? in
                guard let journal = writes.journal, writes.unapplied.count > 0 || !journal.isEmpty else { return nil }
                let segment = try journal.rotate()
                return (writes.unapplied.startApplying(), segment)
            }
            guard let (generation, segment) = taken else { return }
            var succeeded = false
            defer { _ = writes.withLock { $0.unapplied.finishApplying(succeeded: succeeded) } }
            try pool.write { db in
                let upsert = try db.cachedStatement(sql: RequestRow.upsertSQL)
                var binder = RowBinder()
                for record in generation.inOrder {
                    try RequestRow(record).upsert(upsert, binder: &binder)
                }
                try Self.setApplied(db, segment)
            }
            succeeded = true
            try IntakeJournal.remove(journalDirectory, through: segment)
        }
    }

    /// Builds the key filter when there is none yet (after the store opened) or it is full:
    /// the file's keys, read while applying is held so that the file does not change meanwhile,
    /// then the unapplied records' (which include every record written since). The applying
    /// thread calls it after each apply.
    func refreshKeys() throws {
        guard writes.withLock({ $0.keys?.isFull ?? true }) else { return }
        try applying.withLock { _ in
            let keys = try pool.read(Self.storedKeys)
            writes.withLock { writes in
                writes.unapplied.forEach { keys.insert($0) }
                writes.keys = keys
            }
        }
    }

    /// A key filter holding the id and identity of every record in the file, with room for as
    /// many again (and for 32,768 records at least).
    static func storedKeys(_ db: Database) throws -> KeyFilter {
        let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM requests") ?? 0
        let keys = KeyFilter(capacity: max(4 * count, 1 << 16))
        let rows = try Row.fetchCursor(db, sql: "SELECT id, identity FROM requests")
        while let row = try rows.next() {
            keys.insert(row[0] as String)
            if let identity = row[1] as String? { keys.insert(identity) }
        }
        return keys
    }

    /// Applies the journal segments that `directory` holds beyond the last one applied (a
    /// crash kept them from being applied), deletes them, and returns the last segment's number.
    static func replay(_ directory: String, into pool: DatabasePool) throws -> UInt64 {
        let segments = try IntakeJournal.segments(in: directory)
        let last = try pool.write { db in
            let applied = try UInt64.fetchOne(db, sql: "SELECT segment FROM journal_applied") ?? 0
            let pending = segments.filter { $0 > applied }
            let upsert = try db.cachedStatement(sql: RequestRow.upsertSQL)
            let deliver = try db.cachedStatement(sql: deliverSQL)
            var binder = RowBinder()
            for segment in pending {
                for entry in try IntakeJournal.entries(directory, segment: segment) {
                    switch entry {
                    case .record(let record):
                        try RequestRow(record).upsert(upsert, binder: &binder)
                    case .delivered(let id, let time):
                        try deliver.execute(arguments: [time, id])
                    }
                }
            }
            guard let last = pending.last else { return applied }
            try setApplied(db, last)
            return last
        }
        // Segments up to the last applied may be left too: a crash came before their deletion.
        let newest = max(last, segments.last ?? 0)
        try IntakeJournal.remove(directory, through: newest)
        return newest
    }

    /// A journaled delivery mark, as ``markDelivered(_:_:now:)`` makes it: `deliveredAt`, and
    /// `completed` becomes `delivered`, for a final record not yet marked.
    private static let deliverSQL = """
        UPDATE requests SET deliveredAt = ?, state = CASE state WHEN 'completed' THEN 'delivered' ELSE state END
        WHERE id = ? AND deliveredAt IS NULL AND state NOT IN \(RequestState.pendingSQL)
        """

    private static func setApplied(_ db: Database, _ segment: UInt64) throws {
        try db.cachedStatement(sql: "UPDATE journal_applied SET segment = ?").execute(arguments: [segment])
    }
}
