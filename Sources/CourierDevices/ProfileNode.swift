import CourierCore
import Foundation
import Yams

/// One YAML node of a profile with its key path and line, so that every problem names where it
/// is. Values are read with their type checked; nothing is converted silently.
struct ProfileNode {
    let node: Node
    /// `devices.count`, `operations[1].payload`; empty for the document.
    let path: String
    let line: Int?
    let file: String?

    func error(_ message: String) -> ConfigError {
        ConfigError(file: file, line: line, key: path, message: message)
    }

    var isNull: Bool {
        guard case .scalar = node else { return false }
        return node.tag.description == Tag.Name.null.rawValue
    }

    var shown: String {
        switch node {
        case .scalar(let scalar): isNull ? "nothing" : "\"\(scalar.string)\""
        case .sequence: "a list"
        case .mapping: "a mapping"
        case .alias: "an alias"
        }
    }

    /// A mapping's entries, each key checked against `allowed`.
    func mapping(keys allowed: [String]) throws(ConfigError) -> [String: ProfileNode] {
        guard case .mapping(let mapping) = node else {
            throw error("expected a mapping with keys \(allowed.joined(separator: ", ")), found \(shown)")
        }
        var entries: [String: ProfileNode] = [:]
        for (keyNode, value) in mapping {
            let keyLine = keyNode.mark?.line ?? line
            guard case .scalar(let keyScalar) = keyNode else {
                throw ConfigError(file: file, line: keyLine, key: path, message: "keys must be plain names")
            }
            let key = keyScalar.string
            let child = ProfileNode(node: value, path: path.isEmpty ? key : "\(path).\(key)", line: keyLine, file: file)
            guard allowed.contains(key) else {
                throw child.error("unknown key (keys here are \(allowed.joined(separator: ", ")))")
            }
            entries[key] = child
        }
        return entries
    }

    /// A mapping with exactly one key, naming a kind (`echo:`, `closed:`); returns the kind
    /// and its settings.
    func oneOf(_ kinds: [String]) throws(ConfigError) -> (String, ProfileNode) {
        let entries = try mapping(keys: kinds)
        guard entries.count == 1, let (kind, value) = entries.first else {
            throw error("expected exactly one of \(kinds.joined(separator: ", ")), found \(entries.count)")
        }
        return (kind, value)
    }

    func sequence() throws(ConfigError) -> [ProfileNode] {
        guard case .sequence(let sequence) = node else { throw error("expected a list, found \(shown)") }
        return sequence.enumerated().map { index, item in
            ProfileNode(node: item, path: "\(path)[\(index)]", line: item.mark?.line ?? line, file: file)
        }
    }

    func string() throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node, !isNull else { throw error("expected a single value, found \(shown)") }
        return scalar.string
    }

    func int(in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard case .scalar(let scalar) = node, node.tag.description == Tag.Name.int.rawValue,
            let value = Int.construct(from: scalar)
        else { throw error("expected a whole number, found \(shown)") }
        guard range.contains(value) else { throw error(Self.outside(range, value)) }
        return value
    }

    func double(in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        guard case .scalar(let scalar) = node,
            [Tag.Name.int.rawValue, Tag.Name.float.rawValue].contains(node.tag.description),
            let value = Double(scalar.string), value.isFinite
        else { throw error("expected a number, found \(shown)") }
        guard range.contains(value) else { throw error(Self.outside(range, value)) }
        return value
    }

    /// `500ms`, `10s`, `2m` or `1h`, greater than zero.
    func duration() throws(ConfigError) -> Duration {
        let text = try string()
        guard let duration = DurationText.parse(text) else {
            throw error("\"\(text)\" is not a duration (write 500ms, 10s, 2m or 1h)")
        }
        guard duration > .zero else { throw error("must be longer than 0") }
        return duration
    }

    /// A device id prefix or operation name: `[A-Za-z0-9_.-]{1,64}`.
    func id(maxLength: Int = 64) throws(ConfigError) -> String {
        let text = try string()
        guard Topics.isValidID(text), text.utf8.count <= maxLength else {
            throw error("\"\(text)\" must be 1 to \(maxLength) characters from A-Z a-z 0-9 _ . -")
        }
        return text
    }

    /// Any YAML value as JSON-compatible Foundation objects (for fixed JSON payloads).
    func jsonValue() throws(ConfigError) -> Any {
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
                let child = ProfileNode(node: value, path: "\(path).\(key.string)", line: keyNode.mark?.line ?? line, file: file)
                object[key.string] = try child.jsonValue()
            }
            return object
        case .alias:
            throw error("aliases are not supported here")
        }
    }

    private static func outside<T: Comparable>(_ range: ClosedRange<T>, _ value: T) -> String {
        "\(value) is outside \(range.lowerBound)...\(range.upperBound)"
    }
}
