import Foundation
import CourierCore
import Yams

/// One YAML node with where it came from, so that every problem can name its file, line and key
/// path. Reading a value checks its type; nothing is converted silently.
struct ConfigNode {
    let node: Node
    /// The key path: `broker.url`, `operations[1].timeout`; empty for the document.
    let path: String
    /// The line of the key (for mapping values) or of the element (for list items).
    let line: Int?
    let file: String

    /// A problem with this node.
    func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: line, key: path, message: message)
    }

    /// `key:` with nothing after it, `~` or `null`: the key is treated as not set.
    var isNull: Bool {
        guard case .scalar = node else { return false }
        return node.tag.description == Tag.Name.null.rawValue
    }

    /// What the node is, for messages: `"5x"`, `a list`, `a mapping`.
    var shown: String {
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
    func mapping(keys allowed: [String]) throws -> [String: ConfigNode] {
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
    func sequence() throws -> [ConfigNode] {
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
    func string() throws -> String {
        guard case .scalar(let scalar) = node, !isNull else {
            throw error("expected a single value, found \(shown)")
        }
        return scalar.string
    }

    /// A string that is not empty (after trimming spaces).
    func nonEmptyString() throws -> String {
        let text = try string()
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { throw error("must not be empty") }
        return text
    }

    /// A whole number within `range`.
    func int(in range: ClosedRange<Int>) throws -> Int {
        guard case .scalar(let scalar) = node, node.tag.description == Tag.Name.int.rawValue,
            let value = Int.construct(from: scalar)
        else {
            throw error("expected a whole number, found \(shown)")
        }
        if let problem = ConfigRules.check(value, in: range) { throw error(problem) }
        return value
    }

    /// `true` or `false`.
    func bool() throws -> Bool {
        guard case .scalar(let scalar) = node, node.tag.description == Tag.Name.bool.rawValue,
            let value = Bool.construct(from: scalar)
        else {
            throw error("expected true or false, found \(shown)")
        }
        return value
    }

    /// A duration written `500ms`, `10s`, `2m` or `1h`, at least `minimum`.
    func duration(atLeast minimum: Duration = .zero) throws -> Duration {
        guard case .scalar(let scalar) = node, !isNull else {
            throw error("expected a duration (write 500ms, 10s, 2m or 1h), found \(shown)")
        }
        switch ConfigRules.duration(scalar.string, atLeast: minimum) {
        case .success(let duration): return duration
        case .failure(let problem): throw error(problem.message)
        }
    }

    /// A name matching `[A-Za-z0-9_.-]{1,64}`.
    func id() throws -> String {
        let text = try string()
        if let problem = ConfigRules.id(text) { throw error(problem) }
        return text
    }

    // MARK: Helpers

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
