import CourierCore
import Foundation
import MQTT

/// A ``RequestRecord`` as bytes, for the intake journal (``IntakeJournal``): every field in
/// declaration order; integers as 8 bytes little-endian, strings and byte strings as a 4-byte
/// length and their bytes, optionals behind a 0/1 byte, enums as their raw string. Plain and
/// fast (no JSON, no Foundation coders): it is written for every change of every request.
enum RecordCodec {
    /// Appends `record`'s encoding to `bytes`.
    static func encode(_ record: RequestRecord, into bytes: inout [UInt8]) {
        var writer = ByteWriter(bytes: consume bytes)
        writer.string(record.id)
        writer.string(record.device)
        writer.string(record.operation)
        writer.string(record.deviceProtocol.rawValue)
        writer.optional(record.correlationData) { $0.data($1) }
        writer.optional(record.requestId) { $0.string($1) }
        writer.optional(record.identity) { $0.string($1) }
        writer.optional(record.responseTopic) { $0.string($1) }
        writer.integer(Int64(record.qos))
        writer.data(record.payload)
        writer.optional(record.contentType) { $0.string($1) }
        writer.optional(record.payloadFormatIndicator) { $0.integer(Int64($1)) }
        writer.properties(record.userProperties)
        writer.string(record.state.rawValue)
        writer.integer(Int64(record.attempts))
        writer.integer(record.receivedAt)
        writer.integer(record.updatedAt)
        writer.integer(record.deadline)
        writer.optional(record.wakeAt) { $0.integer($1) }
        writer.optional(record.replyStatus) { $0.integer(Int64($1)) }
        writer.optional(record.replyCode) { $0.string($1) }
        writer.optional(record.replyPayload) { $0.data($1) }
        writer.optional(record.replyContentType) { $0.string($1) }
        writer.properties(record.replyUserProperties)
        writer.optional(record.deliveredAt) { $0.integer($1) }
        writer.optional(record.reason) { $0.string($1) }
        writer.string(record.kind.rawValue)
        bytes = writer.bytes
    }

    /// Appends a delivery mark: 4 bytes `FF FF FF FF` (a record starts with its id's length,
    /// never that long), the id, the time.
    static func encodeDelivered(id: String, at time: Int64, into bytes: inout [UInt8]) {
        var writer = ByteWriter(bytes: consume bytes)
        writer.bytes.append(contentsOf: deliveryMarker)
        writer.string(id)
        writer.integer(time)
        bytes = writer.bytes
    }

    /// The entry `bytes` hold, all of them; nil when they hold anything else.
    static func decodeEntry(_ bytes: ArraySlice<UInt8>) -> JournalEntry? {
        var reader = ByteReader(bytes: bytes)
        if bytes.starts(with: deliveryMarker) {
            _ = try? reader.take(deliveryMarker.count)
            guard let id = try? reader.string(), let time = try? reader.integer(), reader.isAtEnd else { return nil }
            return .delivered(id: id, at: time)
        }
        guard let record = try? reader.record(), reader.isAtEnd else { return nil }
        return .record(record)
    }

    private static let deliveryMarker: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF]
}

/// What one journal frame holds.
enum JournalEntry: Equatable {
    /// A record's new version, whole.
    case record(RequestRecord)
    /// Its final reply was acknowledged (``SQLiteStore/markDelivered(ids:now:)``): the one
    /// change written as the id and the time rather than a whole version, for every reply.
    case delivered(id: String, at: Int64)
}

private struct ByteWriter {
    var bytes: [UInt8]

    mutating func integer(_ value: Int64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func length(_ count: Int) {
        withUnsafeBytes(of: UInt32(count).littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            length(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func data(_ value: Data) {
        length(value.count)
        value.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    mutating func optional<T>(_ value: T?, _ write: (inout ByteWriter, T) -> Void) {
        guard let value else {
            bytes.append(0)
            return
        }
        bytes.append(1)
        write(&self, value)
    }

    mutating func properties(_ properties: [UserProperty]) {
        length(properties.count)
        for property in properties {
            string(property.name)
            string(property.value)
        }
    }
}

/// Reads what ``ByteWriter`` wrote; throws at the first byte that does not fit.
private struct ByteReader {
    struct Malformed: Error {}

    var bytes: ArraySlice<UInt8>

    var isAtEnd: Bool { bytes.isEmpty }

    mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count >= count else { throw Malformed() }
        defer { bytes = bytes.dropFirst(count) }
        return bytes.prefix(count)
    }

    mutating func integer() throws -> Int64 {
        Int64(littleEndian: try take(8).withUnsafeBytes { $0.loadUnaligned(as: Int64.self) })
    }

    mutating func int() throws -> Int {
        Int(truncatingIfNeeded: try integer())
    }

    mutating func length() throws -> Int {
        Int(UInt32(littleEndian: try take(4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
    }

    mutating func string() throws -> String {
        let raw = try take(try length())
        guard let value = String(validating: raw, as: UTF8.self) else { throw Malformed() }
        return value
    }

    mutating func data() throws -> Data {
        try take(try length()).withUnsafeBytes { Data($0) }
    }

    mutating func optional<T>(_ read: (inout ByteReader) throws -> T) throws -> T? {
        switch try take(1).first {
        case 0: return nil
        case 1: return try read(&self)
        default: throw Malformed()
        }
    }

    mutating func value<E: RawRepresentable<String>>() throws -> E {
        guard let value = E(rawValue: try string()) else { throw Malformed() }
        return value
    }

    mutating func properties() throws -> [UserProperty] {
        let count = try length()
        var properties: [UserProperty] = []
        for _ in 0..<count {
            properties.append(UserProperty(try string(), try string()))
        }
        return properties
    }

    mutating func record() throws -> RequestRecord {
        var record = RequestRecord(
            id: try string(),
            device: try string(),
            operation: try string(),
            deviceProtocol: try value(),
            correlationData: try optional { try $0.data() },
            requestId: try optional { try $0.string() },
            identity: try optional { try $0.string() },
            responseTopic: try optional { try $0.string() },
            qos: try int(),
            payload: try data(),
            contentType: try optional { try $0.string() },
            payloadFormatIndicator: try optional { try $0.int() },
            userProperties: try properties(),
            state: try value(),
            attempts: try int(),
            receivedAt: try integer(),
            deadline: 0
        )
        record.updatedAt = try integer()
        record.deadline = try integer()
        record.wakeAt = try optional { try $0.integer() }
        record.replyStatus = try optional { try $0.int() }
        record.replyCode = try optional { try $0.string() }
        record.replyPayload = try optional { try $0.data() }
        record.replyContentType = try optional { try $0.string() }
        record.replyUserProperties = try properties()
        record.deliveredAt = try optional { try $0.integer() }
        record.reason = try optional { try $0.string() }
        record.kind = try value()
        return record
    }
}
