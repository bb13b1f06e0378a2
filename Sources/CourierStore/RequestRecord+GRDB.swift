import CourierCore
import Foundation
import GRDB

/// The `requests` table's row for one ``RequestRecord``.
///
/// A wrapper rather than a conformance of `RequestRecord` itself, so that GRDB's protocols stay an
/// implementation detail of this module instead of leaking into every module that sees records.
struct RequestRow: FetchableRecord, PersistableRecord {
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
    }

    init(row: Row) throws {
        let id: String = try row.decode(forColumn: "id")
        func enumValue<E: RawRepresentable<String>>(_ column: String) throws -> E {
            let raw: String = try row.decode(forColumn: column)
            guard let value = E(rawValue: raw) else {
                throw StoreError.corruptRecord(id: id, column: column)
            }
            return value
        }
        func properties(_ column: String) throws -> [UserProperty] {
            let json: String = try row.decode(forColumn: column)
            if json == "[]" { return [] }  // the common case, without a decoder
            do {
                return try JSONDecoder().decode([UserProperty].self, from: Data(json.utf8))
            } catch {
                throw StoreError.corruptRecord(id: id, column: column)
            }
        }

        var record = RequestRecord(
            id: id,
            device: try row.decode(forColumn: "device"),
            operation: try row.decode(forColumn: "operation"),
            deviceProtocol: try enumValue("deviceProtocol"),
            correlationData: try row.decode(forColumn: "correlationData"),
            requestId: try row.decode(forColumn: "requestId"),
            identity: try row.decode(forColumn: "identity"),
            responseTopic: try row.decode(forColumn: "responseTopic"),
            qos: try row.decode(forColumn: "qos"),
            payload: try row.decode(forColumn: "payload"),
            contentType: try row.decode(forColumn: "contentType"),
            payloadFormatIndicator: try row.decode(forColumn: "payloadFormatIndicator"),
            userProperties: try properties("userProperties"),
            state: try enumValue("state"),
            attempts: try row.decode(forColumn: "attempts"),
            receivedAt: try row.decode(forColumn: "receivedAt"),
            deadline: try row.decode(forColumn: "deadline"),
            wakeAt: try row.decode(forColumn: "wakeAt")
        )
        record.updatedAt = try row.decode(forColumn: "updatedAt")
        record.replyStatus = try row.decode(forColumn: "replyStatus")
        record.replyCode = try row.decode(forColumn: "replyCode")
        record.replyPayload = try row.decode(forColumn: "replyPayload")
        record.replyContentType = try row.decode(forColumn: "replyContentType")
        record.replyUserProperties = try properties("replyUserProperties")
        record.deliveredAt = try row.decode(forColumn: "deliveredAt")
        record.reason = try row.decode(forColumn: "reason")
        self.record = record
    }

    func encode(to container: inout PersistenceContainer) throws {
        container[Columns.id] = record.id
        container[Columns.device] = record.device
        container[Columns.operation] = record.operation
        container[Columns.deviceProtocol] = record.deviceProtocol.rawValue
        container[Columns.correlationData] = record.correlationData
        container[Columns.requestId] = record.requestId
        container[Columns.identity] = record.identity
        container[Columns.responseTopic] = record.responseTopic
        container[Columns.qos] = record.qos
        container[Columns.payload] = record.payload
        container[Columns.contentType] = record.contentType
        container[Columns.payloadFormatIndicator] = record.payloadFormatIndicator
        container[Columns.userProperties] = try Self.json(record.userProperties)
        container[Columns.state] = record.state.rawValue
        container[Columns.attempts] = record.attempts
        container[Columns.receivedAt] = record.receivedAt
        container[Columns.updatedAt] = record.updatedAt
        container[Columns.deadline] = record.deadline
        container[Columns.wakeAt] = record.wakeAt
        container[Columns.replyStatus] = record.replyStatus
        container[Columns.replyCode] = record.replyCode
        container[Columns.replyPayload] = record.replyPayload
        container[Columns.replyContentType] = record.replyContentType
        container[Columns.replyUserProperties] = try Self.json(record.replyUserProperties)
        container[Columns.deliveredAt] = record.deliveredAt
        container[Columns.reason] = record.reason
    }

    /// User properties as stored: a JSON array of `{"name": ..., "value": ...}` objects, order kept.
    static func json(_ properties: [UserProperty]) throws -> String {
        if properties.isEmpty { return "[]" }  // the common case, without an encoder
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(properties), as: UTF8.self)
    }
}

extension RequestState {
    /// The pending states as an SQL list, for the literal `IN (...)` terms shared by queries,
    /// partial indexes and triggers.
    static let pendingSQL = "('received', 'dispatched')"
}
