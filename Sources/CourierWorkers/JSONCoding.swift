import Foundation

/// JSON in and out for handlers: decoding failures become messages a device's author can act on
/// (`readings[2]: expected a number, found a string`), output is compact with sorted keys.
public enum JSONCoding {
    /// The content type of JSON replies.
    public static let contentType = "application/json"

    /// Encodes a reply: sorted keys, slashes unescaped. Non-finite numbers cannot be encoded and
    /// throw `EncodingError`.
    public static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// Decodes a request payload; any failure is a 400 ``HandlerError`` whose message names the
    /// field and the problem.
    public static func decode<T: Decodable>(_ type: T.Type, from payload: Data) throws(HandlerError) -> T {
        guard !payload.isEmpty else { throw .badRequest("payload is empty (expected JSON)") }
        do {
            return try JSONDecoder().decode(type, from: payload)
        } catch let error as DecodingError {
            throw .badRequest(message(for: error, payload: payload))
        } catch {
            throw .badRequest("payload could not be decoded: \(error)")
        }
    }

    /// What a decoding error means, in the words of the JSON rather than of Swift.
    static func message(for error: DecodingError, payload: Data) -> String {
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(describe(type))\(found(context.debugDescription))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(describe(type)), found null"
        case .keyNotFound(let key, let context):
            return "missing field \"\(path(context.codingPath + [key], root: ""))\""
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return "payload is not valid JSON" + syntaxDetail(payload)
            }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "payload could not be decoded: \(error)"
        }
    }

    /// `readings[2]`, `a.b`; `root` for the document itself.
    static func path(_ codingPath: [any CodingKey], root: String = "payload") -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? root : text
    }

    /// The JSON kind a Swift type is decoded from.
    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is any BinaryFloatingPoint.Type, is Decimal.Type: "a number"
        case is any BinaryInteger.Type: "a whole number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is any JSONArrayType.Type: "an array"
        case is any JSONObjectType.Type: "an object"
        default: "\(type)"
        }
    }

    /// `, found a string` from Foundation's `... but found a string instead.`, in JSON's words.
    private static func found(_ debugDescription: String) -> String {
        guard let start = debugDescription.range(of: "but found "),
            let end = debugDescription.range(of: " instead", range: start.upperBound..<debugDescription.endIndex)
        else { return "" }
        var kind = String(debugDescription[start.upperBound..<end.lowerBound])
        switch kind {
        case "a dictionary": kind = "an object"
        case "number", "a number": kind = "a number"
        case "bool", "a bool", "a boolean": kind = "true or false"
        default: break
        }
        return ", found \(kind)"
    }

    private static func syntaxDetail(_ payload: Data) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: payload, options: .fragmentsAllowed)
            return ""
        } catch {
            guard let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String else { return "" }
            return ": \(detail)"
        }
    }
}

/// Marks the Swift types JSON arrays and objects decode into, for ``JSONCoding/describe(_:)``.
protocol JSONArrayType {}
protocol JSONObjectType {}
extension Array: JSONArrayType {}
extension Set: JSONArrayType {}
extension Dictionary: JSONObjectType {}
