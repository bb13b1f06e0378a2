import CourierCore
import Foundation

/// `topics`: the request topic on the first line, the Response Topic after it.
///
/// MQTT compares topics byte for byte, while Swift compares `String`s by grapheme and
/// canonical equivalence. So every answer is checked against a byte-level reading of the same
/// topic: a parse must give back the topic's own levels, and a Response Topic allowed for a
/// device must lie in that device's namespace as the broker's filter
/// `devices/{device}/replies/#` sees it.
enum TopicsFuzz {
    static let topics = Topics()
    /// The first level of the default layout, which this reference reading assumes.
    static let devicePrefix = "devices"

    static func run(_ input: Data) throws(FuzzFailure) {
        let (topicBytes, responseBytes) = splitOnce(input, at: [0x0A])
        let topic = text(topicBytes)
        let responseTopic = responseBytes.map(text) ?? ""

        let parsed = topics.parseRequest(topic)
        if let parsed {
            let rebuilt = "\(devicePrefix)/\(parsed.device)/requests/\(parsed.operation)"
                + (parsed.requestId.map { "/\($0)" } ?? "")
            try require(rebuilt.utf8.elementsEqual(topic.utf8), .topics, "parseRequest(\(debug(topic))) gave \(parsed), which is not that topic")
        }
        let levels = byteLevels(topic)
        let byteParse = parseBytes(levels)
        if isValid(parsed.map { ($0.device, $0.operation, $0.requestId) }) || isValid(byteParse) {
            try require(
                parsed?.device == byteParse?.device && parsed?.operation == byteParse?.operation
                    && parsed?.requestId == byteParse?.requestId,
                .topics, "parseRequest(\(debug(topic))) gave \(String(describing: parsed)), its bytes \(String(describing: byteParse))")
        }

        for level in levels + [responseTopic] {
            let valid = Topics.isValidID(level)
            try require(valid == referenceIsValidID(level), .topics, "isValidID(\(debug(level))) is \(valid)")
        }

        // The device the bridge would check the Response Topic for, and a fixed one.
        var devices = ["d1"]
        if let parsed, Topics.isValidID(parsed.device) { devices.append(parsed.device) }
        for device in devices {
            let allowed = topics.isAllowedResponseTopic(responseTopic, device: device)
            if allowed {
                try require(
                    inNamespace(responseTopic, device: device), .topics,
                    "isAllowedResponseTopic(\(debug(responseTopic)), device: \(device)) is true, but its bytes are outside devices/\(device)/replies/#")
            }
        }
    }

    /// The topic's levels as the broker sees them: split at every `/` byte.
    static func byteLevels(_ topic: String) -> [String] {
        topic.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map { text($0) }
    }

    /// `parseRequest` done on bytes.
    static func parseBytes(_ levels: [String]) -> (device: String, operation: String, requestId: String?)? {
        guard levels.count == 4 || levels.count == 5,
            levels[0].utf8.elementsEqual(devicePrefix.utf8), levels[2].utf8.elementsEqual("requests".utf8)
        else { return nil }
        return (levels[1], levels[3], levels.count == 5 ? levels[4] : nil)
    }

    /// Whether every id in a parse is valid (what intake goes on to accept).
    static func isValid(_ parsed: (device: String, operation: String, requestId: String?)?) -> Bool {
        guard let parsed else { return false }
        return referenceIsValidID(parsed.device) && referenceIsValidID(parsed.operation)
            && (parsed.requestId.map(referenceIsValidID) ?? true)
    }

    /// `[A-Za-z0-9_.-]{1,64}`, by Unicode scalar.
    static func referenceIsValidID(_ id: String) -> Bool {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-".unicodeScalars)
        return (1...64).contains(id.unicodeScalars.count) && id.unicodeScalars.allSatisfy(allowed.contains)
    }

    /// Whether the filter `devices/{device}/replies/#` matches `topic` byte for byte, and the
    /// topic has no wildcard, empty level or NUL and at most 1024 bytes.
    static func inNamespace(_ topic: String, device: String) -> Bool {
        let levels = byteLevels(topic)
        let namespace = [devicePrefix, device, "replies"]
        guard topic.utf8.count <= 1024, levels.count >= 3,
            zip(levels, namespace).allSatisfy({ $0.utf8.elementsEqual($1.utf8) })
        else { return false }
        return levels.dropFirst(3).allSatisfy { level in
            !level.isEmpty && !level.utf8.contains(where: { [UInt8(ascii: "+"), UInt8(ascii: "#"), 0].contains($0) })
        }
    }

    static func debug(_ text: String) -> String {
        "\"" + text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined() + "\""
    }
}
