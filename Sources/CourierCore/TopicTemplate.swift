/// One topic template of the `topics:` section, such as `devices/{device}/requests/{operation}`:
/// literal levels and placeholders, each placeholder a whole level.
///
/// Topics are matched as bytes, as the broker matches them: compared as `String`s, a Kelvin sign
/// would pass for a `K`, and a `/` followed by a combining mark would not split a level.
package struct TopicTemplate: Sendable, Equatable, CustomStringConvertible {
    /// What a placeholder level stands for.
    package enum Placeholder: String, Sendable, CaseIterable {
        case device, operation, command
    }

    enum Level: Sendable, Equatable {
        case literal([UInt8])
        case placeholder(Placeholder)
    }

    /// The template as written.
    package let description: String
    let levels: [Level]

    /// Parses `text`, allowing only the placeholders in `allowed` and requiring each of them once.
    /// `{device}` must come before every other placeholder: a device chooses those levels, and
    /// an ACL pattern binds what comes after its own id.
    init(parsing text: String, placeholders allowed: [Placeholder]) throws(TopicLayoutError.Problem) {
        guard !text.isEmpty else { throw .init("is empty") }
        guard !text.hasPrefix("$") else { throw .init("\(quoted(text)) starts with $, which brokers keep for their own topics") }
        guard text.utf8.count <= 1024 else { throw .init("is longer than 1024 bytes") }
        var levels: [Level] = []
        for level in text.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            let word = String(decoding: level, as: UTF8.self)
            guard !level.isEmpty else { throw .init("\(quoted(text)) has an empty level") }
            guard !level.contains(where: { [UInt8(ascii: "+"), UInt8(ascii: "#"), 0].contains($0) }) else {
                throw .init("\(quoted(text)) has a wildcard or NUL in level \(quoted(word)): a template names topics, not filters")
            }
            let opens = level.filter { $0 == UInt8(ascii: "{") }.count, closes = level.filter { $0 == UInt8(ascii: "}") }.count
            guard opens > 0 || closes > 0 else {
                levels.append(.literal(Array(level)))
                continue
            }
            guard opens == 1, closes == 1, level.first == UInt8(ascii: "{"), level.last == UInt8(ascii: "}") else {
                throw .init("\(quoted(text)): \(quoted(word)) must be a whole level (write .../{name}/...)")
            }
            let name = String(word.dropFirst().dropLast())
            guard let placeholder = Placeholder(rawValue: name), allowed.contains(placeholder) else {
                throw .init("\(quoted(text)): {\(name)} is not allowed here (allowed: \(Self.list(allowed)))")
            }
            guard !levels.contains(.placeholder(placeholder)) else { throw .init("\(quoted(text)) has {\(name)} twice") }
            if placeholder != .device, allowed.contains(.device), !levels.contains(.placeholder(.device)) {
                throw .init("\(quoted(text)): {device} must come before {\(name)}")
            }
            levels.append(.placeholder(placeholder))
        }
        let missing = allowed.filter { !levels.contains(.placeholder($0)) }
        guard missing.isEmpty else { throw .init("\(quoted(text)) needs \(Self.list(missing))") }
        description = text
        self.levels = levels
    }

    private static func list(_ placeholders: [Placeholder]) -> String {
        placeholders.map { "{\($0.rawValue)}" }.joined(separator: ", ")
    }

    /// The topic with every placeholder filled in, then `suffix` levels appended.
    func topic(_ values: [Placeholder: String], suffix: [String] = []) -> String {
        let head = levels.map { level in
            switch level {
            case .literal(let bytes): String(decoding: bytes, as: UTF8.self)
            case .placeholder(let placeholder): values[placeholder] ?? "+"
            }
        }
        return (head + suffix).joined(separator: "/")
    }

    /// A filter: the placeholders in `values` filled in, every other one `+`, then `suffix`
    /// more `+` levels.
    func filter(_ values: [Placeholder: String] = [:], suffix: Int = 0) -> String {
        topic(values, suffix: Array(repeating: "+", count: suffix))
    }

    /// How many bytes the topic `topic(values: [.device: device])` has, when `topic` starts with
    /// it; nil otherwise, or when the template has a placeholder other than `{device}`. Without
    /// building that topic.
    func prefixLength(of topic: UnsafeBufferPointer<UInt8>, device: UnsafeBufferPointer<UInt8>) -> Int? {
        var offset = 0
        func take(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            guard topic.count - offset >= bytes.count, topic[offset..<offset + bytes.count].elementsEqual(bytes) else { return false }
            offset += bytes.count
            return true
        }
        for (index, level) in levels.enumerated() {
            if index > 0 {
                guard offset < topic.count, topic[offset] == UInt8(ascii: "/") else { return nil }
                offset += 1
            }
            switch level {
            case .literal(let bytes):
                guard bytes.withUnsafeBufferPointer(take) else { return nil }
            case .placeholder(.device):
                guard take(device) else { return nil }
            case .placeholder:
                return nil
            }
        }
        return offset
    }

    /// The values of a matched topic's placeholders.
    struct Values: Sendable {
        private var device: String?
        private var operation: String?
        private var command: String?

        subscript(_ placeholder: Placeholder) -> String? {
            get {
                switch placeholder {
                case .device: device
                case .operation: operation
                case .command: command
                }
            }
            set {
                switch placeholder {
                case .device: device = newValue
                case .operation: operation = newValue
                case .command: command = newValue
                }
            }
        }
    }

    /// The placeholders' values and the `suffix` levels after the template, when `topic` has
    /// exactly the template's levels plus `suffix` more; nil otherwise. Values are not checked.
    /// Byte by byte, allocating only the strings it returns: every message is matched.
    func match(_ topic: String, suffix: Int = 0) -> (values: Values, suffix: [String])? {
        var topic = topic
        return topic.withUTF8 { bytes -> (values: Values, suffix: [String])? in
            // Most topics a bridge tries are of another shape: count levels before anything else.
            var separators = 0
            for byte in bytes where byte == UInt8(ascii: "/") { separators += 1 }
            guard separators + 1 == levels.count + suffix else { return nil }
            var values = Values()
            var rest: [String] = []
            var start = 0
            var index = 0
            for end in 0...bytes.count where end == bytes.count || bytes[end] == UInt8(ascii: "/") {
                let part = UnsafeBufferPointer(rebasing: bytes[start..<end])
                if index < levels.count {
                    switch levels[index] {
                    case .literal(let literal):
                        guard part.elementsEqual(literal) else { return nil }
                    case .placeholder(let placeholder):
                        values[placeholder] = String(decoding: part, as: UTF8.self)
                    }
                } else {
                    rest.append(String(decoding: part, as: UTF8.self))
                }
                index += 1
                start = end + 1
            }
            return (values, rest)
        }
    }

    /// The template's levels as a pattern: placeholders match any level.
    func pattern(suffix: Int = 0, below: Bool = false) -> TopicPattern {
        let head = levels.map { level -> TopicPattern.Level in
            if case .literal(let bytes) = level { return .literal(bytes) }
            return .any
        }
        return TopicPattern(levels: head + Array(repeating: .any, count: suffix), orBelow: below)
    }
}

/// A set of topics: fixed levels and single-level wildcards, and optionally everything below
/// (`/#`, which also matches the parent). Used to prove two templates never name one topic.
struct TopicPattern: Sendable, Equatable {
    enum Level: Sendable, Equatable {
        case literal([UInt8])
        case any
    }

    var levels: [Level]
    var orBelow = false

    init(levels: [Level], orBelow: Bool = false) {
        self.levels = levels
        self.orBelow = orBelow
    }

    /// A fixed topic or filter such as `courier/bridges/+/replies`.
    init(_ filter: String) {
        var parts = filter.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Array.init)
        orBelow = parts.last == [UInt8(ascii: "#")]
        if orBelow { parts.removeLast() }
        levels = parts.map { $0 == [UInt8(ascii: "+")] ? .any : .literal($0) }
    }

    /// Whether some topic is in both sets.
    func overlaps(_ other: TopicPattern) -> Bool {
        let shared = min(levels.count, other.levels.count)
        for (a, b) in zip(levels.prefix(shared), other.levels.prefix(shared)) {
            if case .literal(let x) = a, case .literal(let y) = b, x != y { return false }
        }
        if levels.count == other.levels.count { return true }
        return levels.count < other.levels.count ? orBelow : other.orBelow
    }
}

private func quoted(_ text: String) -> String { "\"\(text)\"" }
