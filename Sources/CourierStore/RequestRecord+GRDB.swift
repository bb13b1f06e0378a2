import CourierCore
import Foundation
import GRDB
import GRDBSQLite
import MQTT

/// The `requests` table's row for one ``RequestRecord``.
///
/// A wrapper rather than a conformance of `RequestRecord` itself, so that GRDB's protocols stay an
/// implementation detail of this module instead of leaking into every module that sees records.
struct RequestRow: FetchableRecord, TableRecord {
    static let databaseTableName = "requests"

    var record: RequestRecord

    init(_ record: RequestRecord) {
        self.record = record
    }

    /// Column names; one per `RequestRecord` field, spelled like the field.
    enum Columns {
        static let id = Column("id")
        static let device = Column("device")
        static let operation = Column("operation")
        static let deviceProtocol = Column("deviceProtocol")
        static let correlationData = Column("correlationData")
        static let requestId = Column("requestId")
        static let identity = Column("identity")
        static let responseTopic = Column("responseTopic")
        static let qos = Column("qos")
        static let payload = Column("payload")
        static let contentType = Column("contentType")
        static let payloadFormatIndicator = Column("payloadFormatIndicator")
        static let userProperties = Column("userProperties")
        static let state = Column("state")
        static let attempts = Column("attempts")
        static let receivedAt = Column("receivedAt")
        static let updatedAt = Column("updatedAt")
        static let deadline = Column("deadline")
        static let wakeAt = Column("wakeAt")
        static let replyStatus = Column("replyStatus")
        static let replyCode = Column("replyCode")
        static let replyPayload = Column("replyPayload")
        static let replyContentType = Column("replyContentType")
        static let replyUserProperties = Column("replyUserProperties")
        static let deliveredAt = Column("deliveredAt")
        static let reason = Column("reason")
        static let kind = Column("kind")
    }

    /// The `requests` columns in table order, which is also the order of `SELECT *`: rows are
    /// decoded by position, which is cheaper than by name. Migrations only ever append columns.
    static let columnNames = [
        "id", "device", "operation", "deviceProtocol", "correlationData", "requestId", "identity",
        "responseTopic", "qos", "payload", "contentType", "payloadFormatIndicator", "userProperties",
        "state", "attempts", "receivedAt", "updatedAt", "deadline", "wakeAt", "replyStatus",
        "replyCode", "replyPayload", "replyContentType", "replyUserProperties", "deliveredAt", "reason",
        "kind", "identityHash",
    ]

    /// Decodes a `SELECT *` (or `RETURNING *`) row of `requests`.
    init(row: Row) throws {
        let id: String = try row.decode(atIndex: 0)
        func enumValue<E: RawRepresentable<String>>(_ index: Int) throws -> E {
            let raw: String = try row.decode(atIndex: index)
            guard let value = E(rawValue: raw) else {
                throw StoreError.corruptRecord(id: id, column: Self.columnNames[index])
            }
            return value
        }
        func properties(_ index: Int) throws -> [UserProperty] {
            let json: String = try row.decode(atIndex: index)
            guard let properties = StoredProperties.properties(json) else {
                throw StoreError.corruptRecord(id: id, column: Self.columnNames[index])
            }
            return properties
        }

        var record = RequestRecord(
            id: id,
            device: try row.decode(atIndex: 1),
            operation: try row.decode(atIndex: 2),
            deviceProtocol: try enumValue(3),
            correlationData: try row.decode(atIndex: 4),
            requestId: try row.decode(atIndex: 5),
            identity: try row.decode(atIndex: 6),
            responseTopic: try row.decode(atIndex: 7),
            qos: try row.decode(atIndex: 8),
            payload: try row.decode(atIndex: 9),
            contentType: try row.decode(atIndex: 10),
            payloadFormatIndicator: try row.decode(atIndex: 11),
            userProperties: try properties(12),
            state: try enumValue(13),
            attempts: try row.decode(atIndex: 14),
            receivedAt: try row.decode(atIndex: 15),
            deadline: try row.decode(atIndex: 17),
            wakeAt: try row.decode(atIndex: 18)
        )
        record.updatedAt = try row.decode(atIndex: 16)
        record.replyStatus = try row.decode(atIndex: 19)
        record.replyCode = try row.decode(atIndex: 20)
        record.replyPayload = try row.decode(atIndex: 21)
        record.replyContentType = try row.decode(atIndex: 22)
        record.replyUserProperties = try properties(23)
        record.deliveredAt = try row.decode(atIndex: 24)
        record.reason = try row.decode(atIndex: 25)
        record.kind = try enumValue(26)
        self.record = record
    }

    /// The columns of what was asked, by whom and how to answer: set when a record is first
    /// stored and never changed by a later version (``StoreTransaction`` checks it).
    static let requestColumns: Set<String> = [
        "id", "device", "operation", "deviceProtocol", "correlationData", "requestId", "identity",
        "responseTopic", "qos", "payload", "contentType", "payloadFormatIndicator", "userProperties",
        "receivedAt", "kind", "identityHash",
    ]

    /// `INSERT` of a whole row, or, when a row with its id is stored, `UPDATE` of the columns a
    /// later version changes. Leaving the ``requestColumns`` alone leaves the indexes on them
    /// alone: SQLite rewrites an index entry only when the `SET` names one of its columns, and
    /// the identity index's entries sit on random pages.
    static let upsertSQL = """
        INSERT INTO requests (\(columnNames.joined(separator: ", ")))
        VALUES (\(Array(repeating: "?", count: columnNames.count).joined(separator: ", ")))
        ON CONFLICT (id) DO UPDATE SET \(columnNames.filter { !requestColumns.contains($0) }.map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
        """

    /// Writes the row through `statement`, an ``upsertSQL`` statement prepared once per
    /// transaction: inserts it, or updates the columns a later version changes.
    ///
    /// The applying thread's hot path: the values are bound to the SQLite statement directly,
    /// in ``columnNames`` order, by `binder`, which the caller keeps from row to row.
    func upsert(_ statement: Statement, binder: inout RowBinder) throws {
        let handle = statement.sqliteStatement
        // Reset after every use, so the next starts from a statement ready to bind.
        defer { sqlite3_reset(handle) }
        binder.bind(record.id)
        binder.bind(record.device)
        binder.bind(record.operation)
        binder.bind(record.deviceProtocol.rawValue)
        binder.bind(record.correlationData)
        binder.bind(record.requestId)
        binder.bind(record.identity)
        binder.bind(record.responseTopic)
        binder.bind(record.qos)
        binder.bind(record.payload)
        binder.bind(record.contentType)
        binder.bind(record.payloadFormatIndicator)
        binder.bind(try StoredProperties.json(record.userProperties))
        binder.bind(record.state.rawValue)
        binder.bind(record.attempts)
        binder.bind(record.receivedAt)
        binder.bind(record.updatedAt)
        binder.bind(record.deadline)
        binder.bind(record.wakeAt)
        binder.bind(record.replyStatus)
        binder.bind(record.replyCode)
        binder.bind(record.replyPayload)
        binder.bind(record.replyContentType)
        binder.bind(try StoredProperties.json(record.replyUserProperties))
        binder.bind(record.deliveredAt)
        binder.bind(record.reason)
        binder.bind(record.kind.rawValue)
        binder.bind(record.identity.map(IdentityHash.of))
        assert(binder.count == Self.columnNames.count, "one value per column")
        let code = binder.step(handle)
        guard code == SQLITE_DONE else {
            let message = String(cString: sqlite3_errmsg(sqlite3_db_handle(handle)))
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: Self.upsertSQL)
        }
    }
}

extension RequestState {
    /// The pending states as an SQL list, for the literal `IN (...)` terms shared by queries,
    /// partial indexes and triggers.
    static let pendingSQL = "('received', 'dispatched')"
}
