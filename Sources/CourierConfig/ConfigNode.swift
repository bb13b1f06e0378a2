import Foundation
import CourierCore
import Yams

/// One YAML node with where it came from, so that every problem can name its file, line and key
/// path: the reader of Courier's configuration and of the simulator's device profiles. Reading a
/// value checks its type; nothing is converted silently.
package struct ConfigNode {
    let node: Node
    /// The key path: `broker.url`, `operations[1].timeout`; empty for the document.
    package let path: String
    /// The line of the key (for mapping values) or of the element (for list items).
    package let line: Int?
    /// The file, when the text came from one.
    package let file: String?

    init(node: Node, path: String, line: Int?, file: String?) {
        self.node = node
        self.path = path
        self.line = line
        self.file = file
    }

    /// The document of a YAML text, nil when it is empty; a syntax error names its line.
    package static func document(yaml: String, file: String?) throws(ConfigError) -> ConfigNode? {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw syntaxError(error, file: file)
        } catch {
            throw ConfigError(file: file, key: "", message: "invalid YAML: \(error)")
        }
        return root.map { ConfigNode(node: $0, path: "", line: $0.mark?.line ?? 1, file: file) }
    }

    /// A problem with this node.
    package func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: line, key: path, message: message)
    }

    /// `key:` with nothing after it, `~` or `null`: the key is treated as not set.
    package var isNull: Bool {
        guard case .scalar = node else { return false }
        return node.tag.description == Tag.Name.null.rawValue
    }

    /// What the node is, for messages: `"5x"`, `a list`, `a mapping`.
    package var shown: String {
        switch node {
        case .scalar(let scalar): isNull ? "nothing" : quoted(scalar.string)
        case .sequence: "a list"
        case .mapping: "a mapping"
        case .alias: "an alias"
        }
    }

    // MARK: Containers

    /// The entries of a mapping, each checked against the keys this section has; an empty
    /// dictionary when the node is null (a section whose keys are all commented out).
    package func mapping(keys allowed: [String]) throws(ConfigError) -> [String: ConfigNode] {
        if isNull { return [:] }
        guard case .mapping(let mapping) = node else {
            throw error("expected a mapping with keys \(allowed.joined(separator: ", ")), found \(shown)")
        }
        var entries: [String: ConfigNode] = [:]
        for (keyNode, value) in mapping {
            let keyLine = keyNode.mark?.line ?? line
            guard case .scalar(let keyScalar) = keyNode else {
                throw ConfigError(file: file, line: keyLine, key: path, message: "keys must be plain names")
            }
            let key = keyScalar.string
            let child = ConfigNode(node: value, path: path.isEmpty ? key : "\(path).\(key)", line: keyLine, file: file)
            guard allowed.contains(key) else {
                var message = "unknown key"
                if let suggestion = Self.suggestion(for: key, among: allowed) {
                    message += " (did you mean \(suggestion)?)"
                } else {
                    let known = allowed.joined(separator: ", ")
                    message += path.isEmpty ? " (sections are \(known))" : " (keys here are \(known))"
                }
                throw child.error(message)
            }
            entries[key] = child
        }
        return entries
    }

    /// The items of a list; empty when the node is null.
    package func sequence() throws(ConfigError) -> [ConfigNode] {
        if isNull { return [] }
        guard case .sequence(let sequence) = node else {
            throw error("expected a list, found \(shown)")
        }
        return sequence.enumerated().map { index, item in
            ConfigNode(node: item, path: "\(path)[\(index)]", line: item.mark?.line ?? line, file: file)
        }
    }

    // MARK: Scalars

    /// Any scalar's text; null, lists and mappings are errors.
    package func string() throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node, !isNull else {
            throw error("expected a single value, found \(shown)")
        }
        return scalar.string
    }

    /// A string that is not empty (after trimming spaces).
    package func nonEmptyString() throws(ConfigError) -> String {
        let text = try string()
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { throw error("must not be empty") }
        return text
    }

    /// A whole number within `range`.
    package func int(in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard case .scalar(let scalar) = node, node.tag.description == Tag.Name.int.rawValue,
            let value = Int.construct(from: scalar)
        else {
            throw error("expected a whole number, found \(shown)")
        }
        if let problem = ConfigRules.check(value, in: range) { throw error(problem) }
        return value
    }

    /// `true` or `false`.
    package func bool() throws(ConfigError) -> Bool {
        guard case .scalar(let scalar) = node, node.tag.description == Tag.Name.bool.rawValue,
            let value = Bool.construct(from: scalar)
        else {
            throw error("expected true or false, found \(shown)")
        }
        return value
    }

    /// A duration written `500ms`, `10s`, `2m` or `1h`, at least `minimum`.
    package func duration(atLeast minimum: Duration = .zero) throws(ConfigError) -> Duration {
        guard case .scalar(let scalar) = node, !isNull else {
            throw error("expected a duration (write 500ms, 10s, 2m or 1h), found \(shown)")
        }
        switch ConfigRules.duration(scalar.string, atLeast: minimum) {
        case .success(let duration): return duration
        case .failure(let problem): throw error(problem.message)
        }
    }

    /// A name matching `[A-Za-z0-9_.-]{1,64}`.
    package func id() throws(ConfigError) -> String {
        let text = try string()
        if let problem = ConfigRules.id(text) { throw error(problem) }
        return text
    }

    /// A number (whole or not) within `range`.
    package func double(in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        guard case .scalar(let scalar) = node,
            [Tag.Name.int.rawValue, Tag.Name.float.rawValue].contains(node.tag.description),
            let value = Double(scalar.string), value.isFinite
        else {
            throw error("expected a number, found \(shown)")
        }
        guard range.contains(value) else {
            throw error("must be between \(range.lowerBound) and \(range.upperBound), found \(value)")
        }
        return value
    }

    /// A mapping with exactly one key, naming a kind (`echo:`, `closed:`): the kind and its
    /// settings.
    package func oneOf(_ kinds: [String]) throws(ConfigError) -> (kind: String, settings: ConfigNode) {
        let entries = try mapping(keys: kinds)
        guard entries.count == 1, let (kind, settings) = entries.first else {
            throw error("expected exactly one of \(kinds.joined(separator: ", ")), found \(entries.count)")
        }
        return (kind, settings)
    }

    /// Any YAML value as JSON-compatible Foundation objects (for fixed JSON payloads).
    package func jsonValue() throws(ConfigError) -> Any {
        switch node {
        case .scalar(let scalar):
            switch node.tag.description {
            case Tag.Name.null.rawValue: return NSNull()
            case Tag.Name.bool.rawValue: return Bool.construct(from: scalar) ?? false
            case Tag.Name.int.rawValue: return Int.construct(from: scalar) ?? 0
            case Tag.Name.float.rawValue:
                guard let value = Double(scalar.string), value.isFinite else { throw error("JSON has no \(scalar.string)") }
                return value
            default: return scalar.string
            }
        case .sequence:
            var items: [Any] = []
            for item in try sequence() { items.append(try item.jsonValue()) }
            return items
        case .mapping(let mapping):
            var object: [String: Any] = [:]
            for (keyNode, value) in mapping {
                guard case .scalar(let key) = keyNode else { throw error("JSON keys must be plain names") }
                let child = ConfigNode(node: value, path: "\(path).\(key.string)", line: keyNode.mark?.line ?? line, file: file)
                object[key.string] = try child.jsonValue()
            }
            return object
        case .alias:
            throw error("aliases are not supported here")
        }
    }

    // MARK: Helpers

    private static func syntaxError(_ error: YamlError, file: String?) -> ConfigError {
        func located(_ mark: Mark, _ context: YamlError.Context?, _ problem: String) -> ConfigError {
            var message = "invalid YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line))" }
            return ConfigError(file: file, line: mark.line, key: "", message: message)
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return located(mark, context, problem)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map(quoted).joined(separator: ", ")
            let message = "key \(keys) is written more than once in this mapping"
            return ConfigError(file: file, line: context.mark.line, key: "", message: message)
        default:
            return ConfigError(file: file, key: "", message: "invalid YAML: \(error)")
        }
    }

    /// The allowed key closest to a misspelt one, when it is close enough to be the intended one.
    static func suggestion(for key: String, among allowed: [String]) -> String? {
        let lowered = key.lowercased()
        let scored = allowed.map { ($0, editDistance(lowered, $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(1, min(3, key.count / 3)) else {
            return nil
        }
        return best.0
    }

    /// Levenshtein distance; keys are short, so the quadratic table is fine.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// A value as messages show it: in double quotes.
func quoted(_ text: String) -> String {
    "\"\(text)\""
}
