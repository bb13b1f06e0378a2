import Foundation
import Logging

/// One logfmt line per event on stderr, so that log tools can parse it:
/// `time=2026-11-21T20:15:03.123Z level=info logger=courier msg="request finished" attempts=1 …`.
/// Metadata keys are sorted; a value with spaces, quotes, `=` or nothing at all is quoted.
///
/// Lines are built as bytes and written by ``LogOutput`` in batches: a request's outcome line
/// is on the bridge's network thread, and a `write` per line cost it about 6% of its time.
struct LogfmtLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    private let label: String

    init(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        // The bridge's loggers carry no metadata of their own: the event's is the line's.
        var fields = metadata
        if fields.isEmpty, metadataProvider == nil {
            fields = event.metadata ?? [:]
        } else {
            if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
            if let own = event.metadata { fields.merge(own) { _, new in new } }
        }
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line += "time=".utf8
        Self.appendTimestamp(to: &line)
        line += " level=".utf8
        line += event.level.rawValue.utf8
        line += " logger=".utf8
        Self.appendQuoted(label, to: &line)
        line += " msg=".utf8
        Self.appendQuoted(event.message.description, to: &line)
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            line.append(UInt8(ascii: " "))
            line += key.utf8
            line.append(UInt8(ascii: "="))
            switch value {
            case .string(let value): Self.appendQuoted(value, to: &line)
            case let value: Self.appendQuoted(value.description, to: &line)
            }
        }
        line.append(UInt8(ascii: "\n"))
        // Warnings and errors go out at once; information waits for the next batch (ms).
        LogOutput.standardError.write(line, now: event.level >= .warning)
    }

    /// Appends `value` as a logfmt value: bare when it can be, else in double quotes with
    /// `"`, `\`, carriage returns and newlines escaped. Byte by byte: it runs for every field
    /// of every line.
    private static func appendQuoted(_ value: String, to line: inout [UInt8]) {
        var value = value
        value.withUTF8 { bytes in
            let bare = !bytes.isEmpty && !bytes.contains { byte in
                byte == UInt8(ascii: " ") || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "\"")
                    || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
                    || byte == 0x0B || byte == 0x0C || byte == 0xC2 || byte == 0xE2  // and the lead bytes of NEL, LS, PS
            }
            if bare {
                line.append(contentsOf: bytes)
                return
            }
            line.append(UInt8(ascii: "\""))
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""): line += "\\\"".utf8
                case UInt8(ascii: "\\"): line += "\\\\".utf8
                case UInt8(ascii: "\n"): line += "\\n".utf8
                case UInt8(ascii: "\r"): line += "\\r".utf8
                default: line.append(byte)
                }
            }
            line.append(UInt8(ascii: "\""))
        }
    }

    /// UTC with milliseconds, `2026-11-21T20:15:03.123Z`, built by hand: it is on every line.
    private static func appendTimestamp(to line: inout [UInt8]) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &time)
        func append(_ value: Int, digits: Int) {
            var digit = 1
            for _ in 1..<digits { digit *= 10 }
            var rest = value
            while digit > 0 {
                line.append(UInt8(48 + rest / digit))
                rest %= digit
                digit /= 10
            }
        }
        append(Int(time.tm_year) + 1900, digits: 4)
        line.append(UInt8(ascii: "-"))
        append(Int(time.tm_mon) + 1, digits: 2)
        line.append(UInt8(ascii: "-"))
        append(Int(time.tm_mday), digits: 2)
        line.append(UInt8(ascii: "T"))
        append(Int(time.tm_hour), digits: 2)
        line.append(UInt8(ascii: ":"))
        append(Int(time.tm_min), digits: 2)
        line.append(UInt8(ascii: ":"))
        append(Int(time.tm_sec), digits: 2)
        line.append(UInt8(ascii: "."))
        append(now.tv_nsec / 1_000_000, digits: 3)
        line.append(UInt8(ascii: "Z"))
    }
}
