/// A problem in a configuration or a device profile, located as precisely as it can be: the
/// file and line, the key path (`operations[1].timeout`) or the environment variable, and what
/// is wrong.
///
/// Its description reads like a compiler diagnostic:
/// `Config/courier.yaml:12: operations[1].timeout: "5x" is not a duration (write 500ms, 10s, 2m or 1h)`.
package struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file the problem is in; nil for environment variables and programmatic settings.
    package var file: String?
    /// The line (from 1) in `file`, when known.
    package var line: Int?
    /// The key path (`broker.url`, `operations[0].name`) or the environment variable
    /// (`COURIER_BROKER_URL`); empty when the problem is not about one key (a YAML syntax error).
    package var key: String
    /// What is wrong, and where it helps, what to write instead.
    package var message: String

    package init(file: String? = nil, line: Int? = nil, key: String, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    package var description: String {
        var text = ""
        if let file {
            text += file
            if let line { text += ":\(line)" }
            text += ": "
        }
        if !key.isEmpty { text += "\(key): " }
        return text + message
    }
}
