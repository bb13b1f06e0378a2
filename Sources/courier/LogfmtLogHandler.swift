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

    private static func timestamp() -> String {
        Date.now.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
