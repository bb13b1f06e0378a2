/// The topic conventions of the contract, with every prefix in one place.
public struct Topics: Sendable, Equatable {
    public var devicePrefix = "devices"
    public var workPrefix = "courier/work"
    public var workerGroup = "courier-workers"
    public var bridgePrefix = "courier/bridges"
    public var presencePrefix = "courier/workers"
    public var deadLetterPrefix = "courier/deadletters"

    public init() {}

    /// Subscriptions that catch both request shapes: `devices/+/requests/+` and `.../+/+`.
    public var requestFilters: [String] {
        ["\(devicePrefix)/+/requests/+", "\(devicePrefix)/+/requests/+/+"]
    }

    /// The MQTT 5 request topic `devices/{device}/requests/{operation}`.
    public func requestTopic(device: String, operation: String) -> String { "\(devicePrefix)/\(device)/requests/\(operation)" }

    public func workTopic(_ operation: String) -> String { "\(workPrefix)/\(operation)" }

    public func workSubscription(_ operation: String) -> String {
        "$share/\(workerGroup)/\(workPrefix)/\(operation)"
    }

    public func bridgeReplies(_ bridgeID: String) -> String { "\(bridgePrefix)/\(bridgeID)/replies" }

    public func presence(_ workerID: String) -> String { "\(presencePrefix)/\(workerID)" }

    public var presenceFilter: String { "\(presencePrefix)/+" }

    public func deadLetters(_ operation: String) -> String { "\(deadLetterPrefix)/\(operation)" }

    /// The reply namespace a device's Response Topic must lie in: `devices/{device}/replies/`.
    public func replyNamespace(_ device: String) -> String { "\(devicePrefix)/\(device)/replies/" }

    /// The MQTT 3.1.1 reply topic: `devices/{device}/replies/{operation}/{requestId}/{status}`.
    public func legacyReplyTopic(device: String, operation: String, requestId: String, status: Int) -> String {
        "\(devicePrefix)/\(device)/replies/\(operation)/\(requestId)/\(status)"
    }

    /// Whether a Response Topic is one the bridge may publish to for this device: the reply
    /// namespace itself or a topic below it (what `devices/{device}/replies/#` matches),
    /// without wildcards, empty levels or anything that is not a plain level.
    ///
    /// The topic is read as bytes, as the broker reads it: compared as a `String`, a Kelvin sign
    /// (U+212A) would pass for a `K` in the device id, and a `/`, `+`, `#` or NUL followed by
    /// a combining mark would be one character that is none of them.
    public func isAllowedResponseTopic(_ topic: String, device: String) -> Bool {
        let topic = topic.utf8
        let namespace = replyNamespace(device).utf8
        if topic.elementsEqual(namespace.dropLast()) { return true }
        guard topic.starts(with: namespace), topic.count > namespace.count, topic.count <= 1024 else {
            return false
        }
        let forbidden: [UInt8] = [UInt8(ascii: "+"), UInt8(ascii: "#"), 0]
        return topic.dropFirst(namespace.count).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            .allSatisfy { level in !level.isEmpty && !level.contains(where: forbidden.contains) }
    }

    /// Parses a device request topic.
    public func parseRequest(_ topic: String) -> ParsedRequestTopic? {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard levels.count == 4 || levels.count == 5,
            levels[0] == devicePrefix[...], levels[2] == "requests"
        else { return nil }
        return ParsedRequestTopic(
            device: String(levels[1]),
            operation: String(levels[3]),
            requestId: levels.count == 5 ? String(levels[4]) : nil
        )
    }

    /// Whether an id (device, operation or request id) matches `[A-Za-z0-9_.-]{1,64}`.
    public static func isValidID(_ id: String) -> Bool {
        let bytes = id.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }
}

/// The parts of `devices/{device}/requests/{operation}[/{requestId}]`, not yet validated.
public struct ParsedRequestTopic: Sendable, Equatable {
    public var device: String
    public var operation: String
    public var requestId: String?
}
