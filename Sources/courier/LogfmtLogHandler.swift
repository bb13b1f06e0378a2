import Foundation
import Logging
import Synchronization

/// One logfmt line per event on stderr, so that log tools can parse it:
/// `time=2026-11-21T20:15:03.123Z level=info logger=courier msg="request finished" attempts=1 …`.
/// Metadata keys are sorted; a value with spaces, quotes, `=` or nothing at all is quoted.
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
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let own = event.metadata { fields.merge(own) { _, new in new } }
        var line = "time=\(Self.timestamp()) level=\(event.level) logger=\(Self.quoted(label)) msg=\(Self.quoted("\(event.message)"))"
        for key in fields.keys.sorted() {
            line += " \(key)=\(Self.quoted("\(fields[key]!)"))"
        }
        line += "\n"
        Self.output.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }

    /// Serialises writes, so that lines of different threads never interleave.
    private static let output = Mutex(())

    /// `value` as a logfmt value: bare when it can be, else in double quotes with `"`, `\` and
    /// newlines escaped.
    static func quoted(_ value: String) -> String {
        let bare = !value.isEmpty && !value.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\\" || $0.isNewline }
        if bare { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            default: escaped.append(character)
            }
        }
        return "\"\(escaped)\""
    }

    /// UTC with milliseconds, `2026-11-21T20:15:03.123Z`, built by hand: it is on every line.
    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &time)
        var text = ""
        text.reserveCapacity(24)
        func append(_ value: Int, digits: Int) {
            var digit = 1
            for _ in 1..<digits { digit *= 10 }
            var rest = value
            while digit > 0 {
                text.unicodeScalars.append(Unicode.Scalar(UInt8(48 + rest / digit)))
                rest %= digit
                digit /= 10
            }
        }
        append(Int(time.tm_year) + 1900, digits: 4)
        text += "-"
        append(Int(time.tm_mon) + 1, digits: 2)
        text += "-"
        append(Int(time.tm_mday), digits: 2)
        text += "T"
        append(Int(time.tm_hour), digits: 2)
        text += ":"
        append(Int(time.tm_min), digits: 2)
        text += ":"
        append(Int(time.tm_sec), digits: 2)
        text += "."
        append(now.tv_nsec / 1_000_000, digits: 3)
        text += "Z"
        return text
    }
}
