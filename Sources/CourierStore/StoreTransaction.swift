import CourierCore
import GRDB

/// One write of ``SQLiteStore``, staged in memory: the record versions it writes and what they
/// do to the pending counts. It reads through its own versions, then the store's unapplied
/// ones, then the SQLite file, so each record it reads is the newest. Each version's journal
/// frame is made as it is written; the store appends the frames once the body has decided
/// them all, or nothing if the body throws.
struct StoreTransaction {
    private(set) var records: [RequestRecord] = []
    /// The journal frames of ``records``, in order (``IntakeJournal``).
    private(set) var frames: [UInt8] = []
    private(set) var changes = PendingCounts()
    /// The new records among ``records``.
    private(set) var inserted: [RequestRecord] = []
    private var newest: [String: Int] = [:]
    private var identities: [String: String] = [:]
    private let unapplied: UnappliedRecords
    private let keys: KeyFilter?
    private let file: DatabaseQueue

    /// - Parameter versions: about how many versions the transaction will write, to size its
    ///   tables once.
    init(unapplied: UnappliedRecords, keys: KeyFilter?, file: DatabaseQueue, versions: Int) {
        self.unapplied = unapplied
        self.keys = keys
        self.file = file
        newest.reserveCapacity(versions)
        identities.reserveCapacity(versions)
        records.reserveCapacity(versions)
    }

    /// The newest version of the record with this id.
    func record(id: String) throws -> RequestRecord? {
        if let index = newest[id] { return records[index] }
        if let record = unapplied[id: id] { return record }
        return try file.inDatabase { db in try SQLiteStore.fetch(db, id: id) }
    }

    /// What stands in the way of inserting `record`: the newest version of the record with its
    /// identity (a duplicate), or else whether its id is taken. One read of the file at most.
    func conflict(with record: RequestRecord) throws -> (duplicate: RequestRecord?, idTaken: Bool) {
        if let identity = record.identity {
            if let id = identities[identity], let index = newest[id] { return (records[index], false) }
            if let stored = unapplied[identity: identity] { return (stored, false) }
        }
        if newest[record.id] != nil || unapplied.contains(record.id) {
            return (nil, true)
        }
        if let keys, !(record.identity.map(keys.mayContain) ?? false), !keys.mayContain(record.id) {
            return (nil, false)
        }
        let stored = try file.inDatabase { db -> (duplicate: RequestRecord?, idTaken: Bool) in
            // Two columns rather than rows: the usual answer is that neither is stored.
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT (SELECT id FROM requests WHERE identityHash = ? AND identity = ?),
                            EXISTS (SELECT 1 FROM requests WHERE id = ?)
                        """),
                arguments: [record.identity.map(IdentityHash.of), record.identity, record.id])
            guard let duplicate = row?[0] as String? else { return (nil, row?[1] ?? false) }
            return (try SQLiteStore.fetch(db, id: duplicate), false)
        }
        guard let duplicate = stored.duplicate else { return (nil, stored.idTaken) }
        return (unapplied[id: duplicate.id] ?? duplicate, false)
    }

    /// Writes a new record.
    mutating func insert(_ record: RequestRecord) {
        inserted.append(record)
        append(record)
        if !record.state.isFinal { changes.add(1, device: record.device) }
    }

    /// Writes `record`, a changed version of `original`.
    mutating func update(_ original: RequestRecord, to record: RequestRecord) {
        assert(Self.asksTheSame(record, as: original), "a later version changes only how a request stands (RequestRow.requestColumns)")
        append(record)
        changes.record(from: original, to: record)
    }

    /// Writes `record`, a final record marked delivered at `time`: it differs from the newest
    /// version only in `deliveredAt` and `completed` becoming `delivered`, so the journal gets
    /// the mark, not the whole version.
    mutating func markDelivered(_ record: RequestRecord, at time: Int64) {
        stage(record)
        IntakeJournal.frameDelivered(id: record.id, at: time, into: &frames)
    }

    /// Whether `record` holds what `original` asked, by whom and how to answer, unchanged: the
    /// columns the store writes only when it first stores a record.
    private static func asksTheSame(_ record: RequestRecord, as original: RequestRecord) -> Bool {
        record.id == original.id && record.device == original.device && record.operation == original.operation
            && record.deviceProtocol == original.deviceProtocol && record.correlationData == original.correlationData
            && record.requestId == original.requestId && record.identity == original.identity
            && record.responseTopic == original.responseTopic && record.qos == original.qos
            && record.payload == original.payload && record.contentType == original.contentType
            && record.payloadFormatIndicator == original.payloadFormatIndicator
            && record.userProperties == original.userProperties && record.receivedAt == original.receivedAt
            && record.kind == original.kind
    }

    /// Stages `record` as a whole version, journaled whole.
    private mutating func append(_ record: RequestRecord) {
        stage(record)
        IntakeJournal.frame(record, into: &frames)
    }

    /// Makes `record` its id's newest version in the transaction; the caller journals it.
    private mutating func stage(_ record: RequestRecord) {
        let previous = newest.updateValue(records.count, forKey: record.id)
        if let identity = record.identity, previous.map({ records[$0].identity != identity }) ?? true {
            identities[identity] = record.id
        }
        records.append(record)
    }
}

extension PendingCounts {
    /// Adds what a stored record's change from `original` to `record` does to the counts.
    mutating func record(from original: RequestRecord, to record: RequestRecord) {
        if !original.state.isFinal { add(-1, device: original.device) }
        if !record.state.isFinal { add(1, device: record.device) }
    }
}
