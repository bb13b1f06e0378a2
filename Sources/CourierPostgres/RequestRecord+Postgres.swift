import CourierCore
import CourierStore
import Foundation
import MQTT
import PostgresNIO

/// The `requests` table's columns in table order, which is also the order of `SELECT *` and
/// `RETURNING *`: one per ``RequestRecord`` field, in snake case. Migrations only ever append
/// columns.
enum RequestColumns {
    static let names = [
        "id", "device", "operation", "device_protocol", "correlation_data", "request_id", "identity",
        "response_topic", "qos", "payload", "content_type", "payload_format_indicator", "user_properties",
        "state", "attempts", "received_at", "updated_at", "deadline", "wake_at", "reply_status",
        "reply_code", "reply_payload", "reply_content_type", "reply_user_properties", "delivered_at", "reason",
    ]

    /// Every column of `requests` in table order: the record's first 26, then `owner` (the
    /// bridge working the request; see ``SharedRequestStore``), which no record field holds,
    /// then the record's `kind`.
    static let all = names + ["owner", "kind"]

    /// The pending states as an SQL list, for the literal `IN (...)` terms of queries, partial
    /// indexes and the counting trigger.
    static let pendingSQL = "('received', 'dispatched')"
}

extension RequestRecord {
    /// Decodes a `SELECT *` or `RETURNING *` row of `requests`, by position.
    init(row: PostgresRow) throws {
        let cells = row.makeRandomAccess()
        guard cells.count == RequestColumns.all.count, let id = try? cells[0].decode(String.self) else {
            throw StoreError.corruptRecord(id: "", column: "id")
        }
        func value<T: PostgresDecodable>(_ index: Int) throws -> T {
            do {
                return try cells[index].decode(T.self)
            } catch {
                throw StoreError.corruptRecord(id: id, column: RequestColumns.names[index])
            }
        }
        func enumValue<E: RawRepresentable<String>>(_ index: Int) throws -> E {
            guard let decoded = E(rawValue: try value(index)) else {
                throw StoreError.corruptRecord(id: id, column: RequestColumns.names[index])
            }
            return decoded
        }
        func properties(_ index: Int) throws -> [UserProperty] {
            guard let decoded = StoredProperties.properties(try value(index)) else {
                throw StoreError.corruptRecord(id: id, column: RequestColumns.names[index])
            }
            return decoded
        }

        self.init(
            id: id,
            device: try value(1),
            operation: try value(2),
            deviceProtocol: try enumValue(3),
            correlationData: try value(4),
            requestId: try value(5),
            identity: try value(6),
            responseTopic: try value(7),
            qos: try value(8),
            payload: try value(9),
            contentType: try value(10),
            payloadFormatIndicator: try value(11),
            userProperties: try properties(12),
            state: try enumValue(13),
            attempts: try value(14),
            receivedAt: try value(15),
            deadline: try value(17),
            wakeAt: try value(18)
        )
        updatedAt = try value(16)
        replyStatus = try value(19)
        replyCode = try value(20)
        replyPayload = try value(21)
        replyContentType = try value(22)
        replyUserProperties = try properties(23)
        deliveredAt = try value(24)
        reason = try value(25)
        kind = try enumValue(27)
    }

    /// `INSERT` of the whole row, owned by `owner`, unless a record with the same identity is
    /// stored (then nothing is inserted and the command tag says 0 rows).
    func insert(owner: String) throws -> PostgresQuery {
        let userProperties = try StoredProperties.json(userProperties)
        let replyUserProperties = try StoredProperties.json(replyUserProperties)
        return try """
            INSERT INTO requests (\(unescaped: RequestColumns.all.joined(separator: ", ")))
            VALUES (\(id), \(device), \(operation), \(deviceProtocol.rawValue), \(correlationData), \(requestId),
                \(identity), \(responseTopic), \(qos), \(payload), \(contentType), \(payloadFormatIndicator),
                \(userProperties), \(state.rawValue), \(attempts), \(receivedAt), \(updatedAt), \(deadline),
                \(wakeAt), \(replyStatus), \(replyCode), \(replyPayload), \(replyContentType),
                \(replyUserProperties), \(deliveredAt), \(reason), \(owner), \(kind.rawValue))
            ON CONFLICT (identity) WHERE identity IS NOT NULL DO NOTHING
            """
    }
}
