import Foundation
import GRDBSQLite

/// Binds one row's values to a prepared statement and runs it, without a copy of each text and
/// blob: they are gathered into one buffer, kept from row to row, which SQLite reads in place
/// (`SQLITE_STATIC`) while the statement runs. GRDB's bindings have SQLite copy every text and
/// blob (`SQLITE_TRANSIENT`): an allocation, a copy and a release for each.
struct RowBinder {
    private enum Value {
        case null
        case integer(Int64)
        case text(Range<Int>)
        case blob(Range<Int>)
    }

    private var values: [Value] = []
    private var bytes: [UInt8] = []

    mutating func bind(_ value: String?) {
        guard let value else { return values.append(.null) }
        let start = bytes.count
        bytes.append(contentsOf: value.utf8)
        values.append(.text(start..<bytes.count))
    }

    mutating func bind(_ value: Data?) {
        guard let value else { return values.append(.null) }
        let start = bytes.count
        value.withUnsafeBytes { bytes.append(contentsOf: $0) }
        values.append(.blob(start..<bytes.count))
    }

    mutating func bind(_ value: Int64?) {
        values.append(value.map(Value.integer) ?? .null)
    }

    mutating func bind(_ value: Int?) {
        bind(value.map(Int64.init))
    }

    /// How many values are gathered.
    var count: Int { values.count }

    /// Binds the values gathered, in order from parameter 1, steps `statement` once, and
    /// forgets the values. Returns the first SQLite code that is not `SQLITE_OK`: the step's,
    /// or a binding's. The bindings are cleared before the buffer may change.
    mutating func step(_ statement: OpaquePointer) -> CInt {
        defer {
            values.removeAll(keepingCapacity: true)
            bytes.removeAll(keepingCapacity: true)
        }
        // One byte past the last value: every range, an empty one at the end too, then points
        // into the buffer, and an empty text or blob is bound as empty rather than NULL.
        bytes.append(0)
        return bytes.withUnsafeBufferPointer { buffer in
            defer { sqlite3_clear_bindings(statement) }
            let base = UnsafeRawPointer(buffer.baseAddress!)
            for (offset, value) in values.enumerated() {
                let index = CInt(offset + 1)
                let code = switch value {
                case .null: sqlite3_bind_null(statement, index)
                case .integer(let integer): sqlite3_bind_int64(statement, index, integer)
                case .text(let range):
                    sqlite3_bind_text(statement, index, (base + range.lowerBound).assumingMemoryBound(to: CChar.self), CInt(range.count), nil)
                case .blob(let range): sqlite3_bind_blob(statement, index, base + range.lowerBound, CInt(range.count), nil)
                }
                guard code == SQLITE_OK else { return code }
            }
            return sqlite3_step(statement)
        }
    }
}
