import CourierCore
import Foundation

/// The checks shared by the file and the environment. Each returns what is wrong, worded to
/// follow the key or variable name, or nil when the value is fine.
enum ConfigRules {
    struct Problem: Error {
        var message: String
    }

    /// The log levels of swift-log.
    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// The largest MQTT packet (256 MB), so the largest payload worth allowing.
    static let maxPayloadBytes = 268_435_455

    static func check(_ value: Int, in range: ClosedRange<Int>) -> String? {
        guard !range.contains(value) else { return nil }
        if range.upperBound == Int.max { return "must be at least \(range.lowerBound), found \(value)" }
        return "must be between \(range.lowerBound) and \(range.upperBound), found \(value)"
    }

    static func int(_ text: String, in range: ClosedRange<Int>) -> Result<Int, Problem> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let value = Int(trimmed) else {
            return .failure(Problem(message: "expected a whole number, found \(quoted(text))"))
        }
        if let problem = check(value, in: range) { return .failure(Problem(message: problem)) }
        return .success(value)
    }

    static func duration(_ text: String, atLeast minimum: Duration) -> Result<Duration, Problem> {
        guard let duration = DurationText.parse(text) else {
            return .failure(Problem(message: "\(quoted(text)) is not a duration (write 500ms, 10s, 2m or 1h)"))
        }
        guard duration >= minimum else {
            let message =
                minimum == .milliseconds(1)
                ? "must be longer than 0, found \(quoted(text))"
                : "must be at least \(DurationText.format(minimum)), found \(quoted(text))"
            return .failure(Problem(message: message))
        }
        return .success(duration)
    }

    static func id(_ text: String) -> String? {
        Topics.isValidID(text)
            ? nil : "\(quoted(text)) is not a valid name (1 to 64 of the characters A-Z a-z 0-9 _ . -)"
    }

    static func logLevel(_ text: String) -> String? {
        logLevels.contains(text) ? nil : "\(quoted(text)) is not a log level (\(logLevels.joined(separator: ", ")))"
    }

    /// `mqtt://HOST[:PORT]` or `mqtts://HOST[:PORT]`, HOST a name, an IPv4 address or a bracketed
    /// IPv6 address, and nothing after the port.
    static func brokerURL(_ text: String) -> String? {
        let schemes = ["mqtt://", "mqtts://"]
        guard let scheme = schemes.first(where: { text.lowercased().hasPrefix($0) }) else {
            return "\(quoted(text)) must start with mqtt:// or mqtts:// (mqtts:// for TLS)"
        }
        let rest = String(text.dropFirst(scheme.count))
        let authority = rest.hasSuffix("/") ? String(rest.dropLast()) : rest
        if authority.contains("@") {
            return "\(quoted(text)) must not hold credentials (set broker.username and broker.password or passwordFile)"
        }
        if let problem = hostAndPort(authority, portRequired: false, portRange: 1...65535) {
            return "\(quoted(text)) \(problem) (write mqtt://HOST:PORT)"
        }
        return nil
    }

    /// `HOST:PORT` for a listening address; port 0 asks for any free port.
    static func address(_ text: String) -> String? {
        if let problem = hostAndPort(text, portRequired: true, portRange: 0...65535) {
            return "\(quoted(text)) \(problem) (write HOST:PORT, e.g. 127.0.0.1:8080)"
        }
        return nil
    }

    private static func hostAndPort(_ text: String, portRequired: Bool, portRange: ClosedRange<Int>) -> String? {
        var host = Substring(text)
        var port: Substring?
        let bracketed = host.hasPrefix("[")
        if bracketed {
            guard let close = host.firstIndex(of: "]") else { return "has an unclosed [" }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return "has text after the ]" }
                port = after.dropFirst()
            }
        } else if let colon = host.lastIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty else { return "has no host" }
        guard bracketed || !host.contains(":") else { return "needs brackets around an IPv6 address" }
        // What a URL (MQTTConfiguration reads the broker's with URLComponents) and the resolver
        // take: a name or IPv4 address of ASCII letters, digits, - . _; an IPv6 address with
        // its %zone between brackets.
        let hostCharacters = bracketed ? "-._:%" : "-._"
        guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || hostCharacters.contains($0)) }) else {
            return "has an invalid host"
        }
        guard let port else { return portRequired ? "has no port" : nil }
        guard port.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(port), portRange.contains(number) else {
            return "has an invalid port \(quoted(String(port)))"
        }
        return nil
    }
}
