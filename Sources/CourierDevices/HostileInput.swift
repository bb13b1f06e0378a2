import Foundation
import MQTT

/// What kind of bad input a ``HostileMessage`` is.
package enum HostileCategory: String, Sendable, Equatable, Hashable, CaseIterable, Codable {
    /// Request-like and other topic names of every shape mosquitto accepts: too few or too many
    /// levels, empty or over-long ids, unknown operations, other devices' ids in other levels.
    case topicShape
    /// Topic names at the limits: 65,535 bytes, 201 levels, 300 levels (over mosquitto's limit
    /// of 200: the broker disconnects the client).
    case topicHuge
    /// Topic names mosquitto refuses by disconnecting: wildcards, empty, invalid UTF-8, NUL,
    /// control characters, noncharacters. Sent on the wire.
    case topicInvalid
    /// `$SYS/...` and `$share/...` topic names, which the broker refuses (not authorised).
    case systemTopic
    /// Forged worker replies on the bridge's own reply topic, with correlations it never made.
    case forgedWorkerReply
    /// Forged worker presence messages with garbage payloads.
    case forgedPresence
    /// Payloads over the operation's limit (300 KB against Courier's 256 KiB).
    case oversizedPayload
    /// Payloads of exactly the limit and one byte more.
    case boundaryPayload
    /// Binary payloads, and invalid UTF-8, to text and JSON operations.
    case binaryPayload
    /// Payload Format Indicator 1 on binary, and values MQTT does not define (2, 255).
    case payloadFormat
    /// Deeply nested JSON: 100,000 `[`, nested objects, nesting inside `readings`.
    case deepJSON
    /// JSON that is not a list of numbers where one is expected.
    case nonNumericJSON
    /// NaN, Infinity, 1e999, the largest and smallest doubles, numbers JSON does not allow.
    case nonFiniteJSON
    /// Huge arrays and strings inside JSON that is otherwise valid.
    case hugeArrayJSON
    /// Truncated JSON, trailing garbage, BOM, UTF-16, duplicate keys, bad escapes, empty.
    case malformedJSON
    /// Empty Response Topic, Content Type and user property names and values (libmosquitto
    /// 2.0.11 stores "" as NULL). Sent on the wire.
    case emptyStrings
    /// Many (500) and huge (60 KB) user properties, and forged `status`, `traceparent`,
    /// `courier-*` ones.
    case userProperties
    /// Huge and odd Content Types.
    case contentType
    /// Correlation Data empty, 65,535 bytes, binary, just over the limit.
    case correlationData
    /// Response Topics outside the device's reply namespace: another device's (the bystander's
    /// and the good devices', with correlations like theirs), `$SYS/...`, the bridge's own
    /// `courier/bridges/...` and `courier/work/...` topics, wildcards, empty levels, prefix
    /// tricks, more levels than a broker takes; and one that only looks like the bystander's
    /// (`devices/{self}/replies/../../{bystander}/...`, its own namespace to MQTT).
    case forbiddenResponseTopic
    /// Properties mosquitto refuses (invalid UTF-8, NUL, a property twice, unknown
    /// identifiers, topic alias 0) or lets through although PUBLISH must not carry them.
    /// Sent on the wire.
    case invalidProperties
    /// Message Expiry 0, 1 and the largest value.
    case messageExpiry
    /// MQTT 3.1.1 topic-correlated requests with bad request ids and extra levels.
    case legacyRequest
    /// A request again with the same identity, with the same or another payload.
    case duplicate
    /// Valid requests that ask for no reply (no Response Topic), at QoS 0 and 1.
    case noResponseTopic

    /// How many distinct variants ``HostileInput/message(_:variant:index:)`` makes.
    package var variants: Int {
        switch self {
        case .topicShape: 20
        case .topicHuge: 5
        case .topicInvalid: 11
        case .systemTopic: 4
        case .forgedWorkerReply: 8
        case .forgedPresence: 8
        case .oversizedPayload: 3
        case .boundaryPayload: 2
        case .binaryPayload: 4
        case .payloadFormat: 5
        case .deepJSON: 6
        case .nonNumericJSON: 14
        case .nonFiniteJSON: 16
        case .hugeArrayJSON: 4
        case .malformedJSON: 14
        case .emptyStrings: 6
        case .userProperties: 8
        case .contentType: 5
        case .correlationData: 6
        case .forbiddenResponseTopic: 19
        case .invalidProperties: 13
        case .messageExpiry: 3
        case .legacyRequest: 12
        case .duplicate: 4
        case .noResponseTopic: 3
        }
    }

    /// Relative frequency after the tour: heavy inputs (hundreds of KB) are rarer, so that a
    /// storm of 100,000 messages moves a few hundred MB, not GB.
    var weight: Double {
        switch self {
        case .topicShape: 8
        case .topicHuge: 0.4
        case .topicInvalid: 2
        case .systemTopic: 2
        case .forgedWorkerReply: 4
        case .forgedPresence: 2
        case .oversizedPayload: 0.3
        case .boundaryPayload: 0.3
        case .binaryPayload: 6
        case .payloadFormat: 4
        case .deepJSON: 1.5
        case .nonNumericJSON: 8
        case .nonFiniteJSON: 8
        case .hugeArrayJSON: 0.5
        case .malformedJSON: 8
        case .emptyStrings: 3
        case .userProperties: 2
        case .contentType: 3
        case .correlationData: 4
        case .forbiddenResponseTopic: 10
        case .invalidProperties: 2
        case .messageExpiry: 4
        case .legacyRequest: 10
        case .duplicate: 6
        case .noResponseTopic: 4
        }
    }
}

/// Who a storm's messages name: the hostile devices they claim to come from, and the devices
/// and bridge topics they aim at.
package struct HostileTargets: Sendable, Equatable {
    /// Device ids hostile requests are sent as (`devices/{id}/requests/...`).
    package var hostileDevices: [String]
    /// A device that never asks: forbidden Response Topics point into its namespace, and it
    /// must receive nothing. A hostile device whose id is the bystander's without its last 4
    /// characters tries the prefix trick on it.
    package var bystander: String
    /// Well-behaved devices: forbidden Response Topics point into their namespaces too, with
    /// Correlation Data shaped like theirs (`{goodCorrelationPrefix}{n}.{seq}`).
    package var goodDevices: [String]
    package var goodCorrelationPrefix: String
    /// The bridge's id, for its `courier/bridges/{id}/replies` topic.
    package var bridgeID: String
    /// The operations' payload limit (Courier's default 256 KiB).
    package var maxPayloadBytes: Int

    package init(
        hostileDevices: [String],
        bystander: String,
        goodDevices: [String],
        goodCorrelationPrefix: String,
        bridgeID: String,
        maxPayloadBytes: Int = 262_144
    ) {
        precondition(!hostileDevices.isEmpty && bystander.count > 4 && !goodDevices.isEmpty)
        self.hostileDevices = hostileDevices
        self.bystander = bystander
        self.goodDevices = goodDevices
        self.goodCorrelationPrefix = goodCorrelationPrefix
        self.bridgeID = bridgeID
        self.maxPayloadBytes = maxPayloadBytes
    }
}

/// A pure, seeded, deterministic generator of hostile messages: the same seed and targets
/// give the same messages, in the same order.
///
/// The first ``tourLength`` messages are every variant of every category once, in order, so
/// that even a short storm sends each; after that, categories are drawn by weight and
/// variants uniformly. Some messages reuse the identity (device and Correlation Data, or
/// request id) of an earlier one: duplicates.
///
/// ```swift
/// var input = HostileInput(seed: 42, targets: targets)
/// let message = input.next()
/// ```
package struct HostileInput: Sendable {
    package let seed: UInt64
    package let targets: HostileTargets
    private var random: SeededGenerator
    /// Messages made so far.
    package private(set) var count = 0
    /// Identities of recent valid-looking requests, for duplicates.
    private var recent: [(device: String, operation: String, identity: String, v5: Bool, payload: Data)] = []

    package static let operations = ["echo", "telemetry.summary"]

    /// Every (category, variant), in the order of the tour.
    package static let tour: [(HostileCategory, Int)] = HostileCategory.allCases.flatMap { category in
        (0..<category.variants).map { (category, $0) }
    }

    package static var tourLength: Int { tour.count }

    private static let cumulativeWeights: [Double] = {
        var sum = 0.0
        return HostileCategory.allCases.map { category in
            sum += category.weight
            return sum
        }
    }()

    package init(seed: UInt64, targets: HostileTargets) {
        self.seed = seed
        self.targets = targets
        random = SeededGenerator(seed: seed ^ 0x5EED_0F_5707)
    }

    /// The next message.
    package mutating func next() -> HostileMessage {
        let category: HostileCategory
        let variant: Int
        if count < Self.tour.count {
            (category, variant) = Self.tour[count]
        } else {
            let draw = Double.random(in: 0..<Self.cumulativeWeights.last!, using: &random)
            let index = Self.cumulativeWeights.firstIndex { draw < $0 } ?? 0
            category = HostileCategory.allCases[index]
            variant = Int.random(in: 0..<category.variants, using: &random)
        }
        let message = message(category, variant: variant, index: count)
        count += 1
        return message
    }

    // MARK: Building blocks

    private mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &random)] }

    private mutating func bytes(_ count: Int) -> Data {
        var data = Data(count: count)
        data.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                var word = random.next()
                for _ in 0..<min(8, buffer.count - offset) {
                    buffer[offset] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    offset += 1
                }
            }
        }
        return data
    }

    private mutating func device() -> String { pick(targets.hostileDevices) }
    private mutating func operation() -> String { pick(Self.operations) }
    private mutating func qos() -> MQTTQoS { Int.random(in: 0..<10, using: &random) < 3 ? .atMostOnce : .atLeastOnce }

    private static func utf8(_ text: String) -> Data { Data(text.utf8) }
    private static func request(_ device: String, _ operation: String) -> Data { utf8("devices/\(device)/requests/\(operation)") }
    private static func replies(_ device: String) -> Data { utf8("devices/\(device)/replies/storm") }

    /// A payload the operation accepts: a few bytes for echo, a small batch for the summary.
    private mutating func validPayload(for operation: String) -> Data {
        if operation == "echo" { return bytes(Int.random(in: 1...64, using: &random)) }
        let readings = (0..<Int.random(in: 1...8, using: &random)).map { _ in "\(Int.random(in: -500...500, using: &random))" }
        return Self.utf8("{\"sensor\":\"storm\",\"readings\":[\(readings.joined(separator: ","))]}")
    }

    /// A valid MQTT 5 request from a hostile device, asking for a reply in its own namespace,
    /// with Correlation Data unique to the message: the base most variants change one thing of.
    private mutating func validRequest(
        _ category: HostileCategory,
        _ variant: Int,
        _ label: String,
        index: Int,
        device: String? = nil,
        operation: String? = nil,
        payload: Data? = nil,
        extra: [HostileMessage.Property] = [],
        remember: Bool = true
    ) -> HostileMessage {
        let device = device ?? self.device()
        let operation = operation ?? self.operation()
        let correlation = "h\(seed % 100_000).\(index)"
        let payload = payload ?? validPayload(for: operation)
        if remember { self.remember(device: device, operation: operation, identity: correlation, v5: true, payload: payload) }
        return HostileMessage(
            category: category,
            variant: variant,
            label: label,
            topic: Self.request(device, operation),
            payload: payload,
            properties: [.responseTopic(Self.replies(device)), .correlationData(Self.utf8(correlation))] + extra,
            qos: qos()
        )
    }

    private mutating func remember(device: String, operation: String, identity: String, v5: Bool, payload: Data) {
        // Only small payloads are kept for duplicates.
        guard payload.count <= 4096 else { return }
        recent.append((device, operation, identity, v5, payload))
        if recent.count > 64 { recent.removeFirst(recent.count - 64) }
    }

    /// A message with only a topic and a payload (no properties), for either protocol.
    private mutating func bare(_ category: HostileCategory, _ variant: Int, _ label: String, topic: Data, payload: Data, v311: Bool? = nil) -> HostileMessage {
        let legacy = v311 ?? Bool.random(using: &random)
        return HostileMessage(
            category: category, variant: variant, label: label, topic: topic, payload: payload, qos: qos(),
            protocolVersion: legacy ? .v311 : .v5
        )
    }

    /// A JSON payload to `telemetry.summary` (or echo, which must pass it through), from either
    /// protocol: MQTT 5 with a Response Topic, or 3.1.1 with a request id.
    private mutating func json(_ category: HostileCategory, _ variant: Int, _ label: String, index: Int, _ payload: Data) -> HostileMessage {
        let operation = Int.random(in: 0..<4, using: &random) == 0 ? "echo" : "telemetry.summary"
        if Bool.random(using: &random) {
            let device = device()
            return HostileMessage(
                category: category, variant: variant, label: label,
                topic: Self.utf8("devices/\(device)/requests/\(operation)/l\(index)"),
                payload: payload, qos: qos(), protocolVersion: .v311
            )
        }
        return validRequest(category, variant, label, index: index, operation: operation, payload: payload, remember: false)
    }

    // MARK: Messages

    /// The message of one variant of one category; `index` makes its identities unique.
    package mutating func message(_ category: HostileCategory, variant: Int, index: Int) -> HostileMessage {
        switch category {
        case .topicShape: topicShape(variant, index: index)
        case .topicHuge: topicHuge(variant, index: index)
        case .topicInvalid: topicInvalid(variant)
        case .systemTopic: systemTopic(variant)
        case .forgedWorkerReply: forgedWorkerReply(variant)
        case .forgedPresence: forgedPresence(variant)
        case .oversizedPayload: oversizedPayload(variant, index: index)
        case .boundaryPayload: boundaryPayload(variant, index: index)
        case .binaryPayload: binaryPayload(variant, index: index)
        case .payloadFormat: payloadFormat(variant, index: index)
        case .deepJSON: deepJSON(variant, index: index)
        case .nonNumericJSON: nonNumericJSON(variant, index: index)
        case .nonFiniteJSON: nonFiniteJSON(variant, index: index)
        case .hugeArrayJSON: hugeArrayJSON(variant, index: index)
        case .malformedJSON: malformedJSON(variant, index: index)
        case .emptyStrings: emptyStrings(variant, index: index)
        case .userProperties: userProperties(variant, index: index)
        case .contentType: contentType(variant, index: index)
        case .correlationData: correlationData(variant, index: index)
        case .forbiddenResponseTopic: forbiddenResponseTopic(variant, index: index)
        case .invalidProperties: invalidProperties(variant, index: index)
        case .messageExpiry: messageExpiry(variant, index: index)
        case .legacyRequest: legacyRequest(variant, index: index)
        case .duplicate: duplicate(variant, index: index)
        case .noResponseTopic: noResponseTopic(variant, index: index)
        }
    }

    private mutating func topicShape(_ variant: Int, index: Int) -> HostileMessage {
        let device = device(), operation = operation(), bystander = targets.bystander
        let shapes: [(String, String)] = [
            ("devices/\(device)/requests", "three levels"),
            ("devices/\(device)/requests/\(operation)/r\(index)/extra", "six levels"),
            ("devices//requests/\(operation)", "empty device id"),
            ("devices/\(String(repeating: "d", count: 65))/requests/\(operation)", "device id of 65 characters"),
            ("devices/dév-ü-\(index)/requests/\(operation)", "non-ASCII device id"),
            ("devices/\(device)/requests/", "empty operation"),
            ("devices/\(device)/requests/no.such.operation", "unknown operation"),
            ("devices/\(device)/requests/\(String(repeating: "o", count: 65))", "operation of 65 characters"),
            ("Devices/\(device)/requests/\(operation)", "prefix in another case"),
            ("/devices/\(device)/requests/\(operation)", "leading slash"),
            ("devices/\(device)/requests/\(operation)/", "trailing slash: empty request id"),
            ("devices/\(device)/requests/\(operation)\u{FEFF}", "byte order mark in the operation"),
            ("devices/\(device)/requests/\(bystander)", "the bystander's id as the operation"),
            ("devices/\(device)/requests/\(operation)/\(bystander)", "the bystander's id as the request id"),
            ("devices/\(device)/replies/x/../../\(bystander)/requests/\(operation)", "dot segments towards the bystander"),
            ("devices/\(device) /requests/\(operation)", "space in the device id"),
            ("devices/\(device)/requests/\(operation) \(operation)", "space in the operation"),
            ("devices/\(device)/requests/\u{202E}\(operation)", "right-to-left override in the operation"),
            ("////////", "only slashes"),
            ("devices/\(device)/requests/😀/r-\(index)", "emoji operation with a request id"),
        ]
        let (topic, label) = shapes[variant]
        let payload = validPayload(for: operation)
        if Bool.random(using: &random) {
            return bare(.topicShape, variant, label, topic: Self.utf8(topic), payload: payload, v311: true)
        }
        return HostileMessage(
            category: .topicShape, variant: variant, label: label, topic: Self.utf8(topic), payload: payload,
            properties: [.responseTopic(Self.replies(device)), .correlationData(Self.utf8("t\(index)"))], qos: qos()
        )
    }

    private mutating func topicHuge(_ variant: Int, index: Int) -> HostileMessage {
        let device = device(), operation = operation()
        let limit = Int(UInt16.max)
        switch variant {
        case 0:
            // The dead letter topic `courier/deadletters/{operation}` of this one is over 65,535 bytes.
            let prefix = "devices/\(device)/requests/"
            let topic = prefix + String(repeating: "o", count: limit - prefix.utf8.count)
            return validRequest(.topicHuge, variant, "65,535-byte topic (operation)", index: index, device: device, payload: Data("x".utf8), remember: false)
                .with(topic: Self.utf8(topic))
        case 1:
            // 3.1.1: the reply topic `devices/{d}/replies/{op}/{id}/400` is over 65,535 bytes.
            let prefix = "devices/\(device)/requests/\(operation)/"
            let topic = prefix + String(repeating: "r", count: limit - prefix.utf8.count)
            return bare(.topicHuge, variant, "65,535-byte 3.1.1 topic (request id)", topic: Self.utf8(topic), payload: Data("{}".utf8), v311: true)
        case 2:
            let topic = "devices/\(device)/requests/\(operation)/" + Array(repeating: "l", count: 197).joined(separator: "/")
            return bare(.topicHuge, variant, "201 levels", topic: Self.utf8(topic), payload: Data("x".utf8))
        case 3:
            // QoS 0: libmosquitto would publish a QoS 1 message again after each reconnect, and
            // the broker disconnects the client for this one every time.
            let topic = "devices/\(device)/requests/\(operation)/" + Array(repeating: "l", count: 296).joined(separator: "/")
            var message = bare(.topicHuge, variant, "300 levels (over mosquitto's 201)", topic: Self.utf8(topic), payload: Data("x".utf8))
            message.qos = .atMostOnce
            return message
        default:
            // MQTT 5 rules (it has a Response Topic), with a request id of 60,000 bytes.
            let topic = "devices/\(device)/requests/\(operation)/" + String(repeating: "r", count: 60_000)
            return validRequest(.topicHuge, variant, "60,000-byte request id with a Response Topic", index: index, device: device, operation: operation, remember: false)
                .with(topic: Self.utf8(topic))
        }
    }

    private mutating func topicInvalid(_ variant: Int) -> HostileMessage {
        let device = device(), operation = operation()
        let topics: [(Data, String)] = [
            (Self.utf8("devices/\(device)/requests/+"), "+ in the topic name"),
            (Self.utf8("devices/\(device)/requests/#"), "# in the topic name"),
            (Self.utf8("devices/+/requests/\(operation)"), "+ as the device"),
            (Self.utf8("#"), "# alone"),
            (Data(), "empty topic name"),
            (Self.utf8("devices/\(device)/requests/") + Data([0xFF, 0xFE]), "invalid UTF-8"),
            (Self.utf8("devices/\(device)") + Data([0]) + Self.utf8("/requests/\(operation)"), "NUL in the device id"),
            (Self.utf8("devices/\(device)/requests/\u{01}\(operation)"), "control character"),
            (Self.utf8("devices/\(device)/requests/") + Data([0xC0, 0xAF]), "overlong UTF-8"),
            (Self.utf8("devices/\(device)/requests/") + Data([0xED, 0xA0, 0x80]), "UTF-8 surrogate"),
            (Self.utf8("devices/\(device)/requests/\u{FFFF}"), "noncharacter U+FFFF"),
        ]
        let (topic, label) = topics[variant]
        return bare(.topicInvalid, variant, label, topic: topic, payload: Data("x".utf8))
    }

    private mutating func systemTopic(_ variant: Int) -> HostileMessage {
        let device = device()
        let topics = [
            ("$SYS/broker/storm", "$SYS topic"),
            ("$SYS", "$SYS alone"),
            ("$share/g/devices/\(device)/requests/echo", "$share as a topic name"),
            ("$storm/devices/\(device)/requests/echo", "other $ topic"),
        ]
        let (topic, label) = topics[variant]
        return bare(.systemTopic, variant, label, topic: Self.utf8(topic), payload: Data("x".utf8))
    }

    private mutating func forgedWorkerReply(_ variant: Int) -> HostileMessage {
        let topic = "courier/bridges/\(targets.bridgeID)/replies"
        let id = bytes(16).map { String(format: "%02x", $0) }.joined()
        let cases: [(String, [HostileMessage.Property], String)] = [
            (topic, [.correlationData(Self.utf8(id))], "unknown request id"),
            (topic, [], "no correlation data"),
            (topic, [.correlationData(Data())], "empty correlation data"),
            (topic, [.correlationData(bytes(65_535))], "65,535-byte correlation data"),
            (topic, [.correlationData(Self.utf8(id)), .userProperty(name: Self.utf8("status"), value: Self.utf8("99999999999999999999"))], "status out of range"),
            (topic, [.correlationData(Self.utf8(id)), .userProperty(name: Self.utf8("status"), value: Self.utf8("102")), .userProperty(name: Self.utf8("progress"), value: Self.utf8("-7"))], "progress with a bad value"),
            ("\(topic)/extra", [.correlationData(Self.utf8(id))], "below the reply topic"),
            ("courier/bridges/storm-other/replies", [.correlationData(Self.utf8(id))], "another bridge's reply topic"),
        ]
        let (forged, properties, label) = cases[variant]
        return HostileMessage(
            category: .forgedWorkerReply, variant: variant, label: "forged worker reply: \(label)", topic: Self.utf8(forged),
            payload: Data("{\"forged\":true}".utf8), properties: properties, qos: qos()
        )
    }

    private mutating func forgedPresence(_ variant: Int) -> HostileMessage {
        let worker = "\(targets.hostileDevices[0])-w\(variant)"
        let payloads: [(Data, String)] = [
            (Data(), "empty (a cleared presence)"),
            (Self.utf8("garbage"), "not JSON"),
            (Self.utf8(String(repeating: "[", count: 100_000)), "100,000 ["),
            (Self.utf8("{\"operations\":\"echo\"}"), "operations not a list"),
            (Self.utf8("{\"operations\":[1,2,null],\"concurrency\":-1}"), "numbers as operations"),
            (Self.utf8("{\"operations\":[\"no.such.operation\"],\"concurrency\":1e999}"), "concurrency 1e999"),
            (Data([0xFF, 0xFE, 0x00, 0x7B]), "invalid UTF-8"),
            (Self.utf8("{\"operations\":[\"" + String(repeating: "x", count: 100_000) + "\"]}"), "100 KB operation name"),
        ]
        let (payload, label) = payloads[variant]
        return HostileMessage(
            category: .forgedPresence, variant: variant, label: "forged presence: \(label)",
            topic: Self.utf8("courier/workers/\(worker)"), payload: payload, qos: qos()
        )
    }

    private mutating func oversizedPayload(_ variant: Int, index: Int) -> HostileMessage {
        let size = 300_000
        switch variant {
        case 0: return validRequest(.oversizedPayload, variant, "300 KB to echo", index: index, operation: "echo", payload: bytes(size))
        case 1:
            let json = "{\"readings\":[" + Array(repeating: "1", count: size / 2).joined(separator: ",") + "]}"
            return validRequest(.oversizedPayload, variant, "300 KB of JSON to telemetry.summary", index: index, operation: "telemetry.summary", payload: Self.utf8(json))
        default:
            let device = device()
            return bare(.oversizedPayload, variant, "300 KB over 3.1.1", topic: Self.utf8("devices/\(device)/requests/echo/o\(index)"), payload: bytes(size), v311: true)
        }
    }

    private mutating func boundaryPayload(_ variant: Int, index: Int) -> HostileMessage {
        let size = targets.maxPayloadBytes + variant
        return validRequest(.boundaryPayload, variant, variant == 0 ? "payload of exactly the limit" : "payload one byte over the limit", index: index, operation: "echo", payload: bytes(size))
    }

    private mutating func binaryPayload(_ variant: Int, index: Int) -> HostileMessage {
        switch variant {
        case 0: return validRequest(.binaryPayload, variant, "binary to echo", index: index, operation: "echo", payload: bytes(Int.random(in: 1...4096, using: &random)))
        case 1: return validRequest(.binaryPayload, variant, "binary to telemetry.summary", index: index, operation: "telemetry.summary", payload: bytes(Int.random(in: 1...4096, using: &random)))
        case 2: return json(.binaryPayload, variant, "invalid UTF-8 JSON", index: index, Self.utf8("{\"readings\":[1,2],\"sensor\":\"") + Data([0xC3, 0x28, 0xFF]) + Self.utf8("\"}"))
        default: return json(.binaryPayload, variant, "NUL bytes in JSON", index: index, Self.utf8("{\"readings\":[1,2]}") + Data(repeating: 0, count: 16))
        }
    }

    private mutating func payloadFormat(_ variant: Int, index: Int) -> HostileMessage {
        let cases: [(UInt8, Data, String)] = [
            (1, bytes(256), "indicator 1 on binary"),
            (1, Data([0xED, 0xA0, 0x80, 0xC0, 0xAF]), "indicator 1 on surrogates and overlongs"),
            (2, Self.utf8("two"), "indicator 2"),
            (255, Self.utf8("max"), "indicator 255"),
            (0, Self.utf8("{\"readings\":[1]}"), "indicator 0 on JSON"),
        ]
        let (indicator, payload, label) = cases[variant]
        return validRequest(.payloadFormat, variant, label, index: index, payload: payload, extra: [.payloadFormatIndicator(indicator)])
    }

    private mutating func deepJSON(_ variant: Int, index: Int) -> HostileMessage {
        let cases: [(String, String)] = [
            (String(repeating: "[", count: 100_000), "100,000 ["),
            (String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000), "5,000 balanced []"),
            (String(repeating: "{\"a\":", count: 50_000), "50,000 {\"a\":"),
            (String(repeating: "{\"a\":", count: 2_000) + "1" + String(repeating: "}", count: 2_000), "2,000 balanced {}"),
            ("{\"readings\":" + String(repeating: "[", count: 10_000) + "1" + String(repeating: "]", count: 10_000) + "}", "10,000 levels inside readings"),
            ("{\"sensor\":" + String(repeating: "{\"s\":", count: 1_000) + "1" + String(repeating: "}", count: 1_000) + ",\"readings\":[1]}", "1,000 levels as the sensor"),
        ]
        let (text, label) = cases[variant]
        return json(.deepJSON, variant, label, index: index, Self.utf8(text))
    }

    private mutating func nonNumericJSON(_ variant: Int, index: Int) -> HostileMessage {
        let texts = [
            "{\"readings\":[\"a\",\"b\"]}", "{\"readings\":[null]}", "{\"readings\":[true,false]}", "{\"readings\":[{}]}",
            "{\"readings\":\"21.5\"}", "{\"readings\":{}}", "{\"sensor\":42,\"readings\":[1]}", "{}", "[]", "\"string\"", "42",
            "null", "{\"readings\":[]}", "{\"readings\":[1,\"2\",3]}",
        ]
        return json(.nonNumericJSON, variant, "non-numeric: \(texts[variant])", index: index, Self.utf8(texts[variant]))
    }

    private mutating func nonFiniteJSON(_ variant: Int, index: Int) -> HostileMessage {
        let readings = [
            "NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1.7976931348623157e308,1.7976931348623157e308",
            "-1.7976931348623157e308,1.7976931348623157e308", "5e-324,-5e-324", "-0.0", "1e-400",
            "123456789012345678901234567890", "0x10", ".5", "01", "1.", "+1",
        ]
        let text = "{\"readings\":[\(readings[variant])]}"
        return json(.nonFiniteJSON, variant, "numbers: \(readings[variant])", index: index, Self.utf8(text))
    }

    private mutating func hugeArrayJSON(_ variant: Int, index: Int) -> HostileMessage {
        let text: String
        let label: String
        switch variant {
        case 0:
            text = "{\"readings\":[" + (0..<20_000).map { _ in "\(Double(Int.random(in: -1_000_000...1_000_000, using: &random)) / 1000)" }.joined(separator: ",") + "]}"
            label = "20,000 readings"
        case 1:
            text = "{\"readings\":[" + Array(repeating: "0", count: 100_000).joined(separator: ",") + "]}"
            label = "100,000 zeros"
        case 2:
            text = "{\"sensor\":\"" + String(repeating: "s", count: 200_000) + "\",\"readings\":[1]}"
            label = "200 KB sensor name"
        default:
            text = "{\"readings\":[1],\"extra\":[" + Array(repeating: "{}", count: 60_000).joined(separator: ",") + "]}"
            label = "60,000 unused objects"
        }
        return json(.hugeArrayJSON, variant, label, index: index, Self.utf8(text))
    }

    private mutating func malformedJSON(_ variant: Int, index: Int) -> HostileMessage {
        let valid = "{\"readings\":[1,2]}"
        let cases: [(Data, String)] = [
            (Self.utf8("{\"readings\":[1,2"), "truncated"),
            (Self.utf8(valid + "xyz"), "trailing garbage"),
            (Data([0xEF, 0xBB, 0xBF]) + Self.utf8(valid), "byte order mark"),
            (Data(valid.utf16.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }), "UTF-16LE"),
            (Self.utf8("{\"readings\":[1],\"readings\":[\"x\"]}"), "duplicate keys"),
            (Self.utf8("{/* c */\"readings\":[1]}"), "comment"),
            (Self.utf8("{'readings':[1]}"), "single quotes"),
            (Data(), "empty"),
            (Self.utf8(" \n\t "), "whitespace only"),
            (Self.utf8("{\"sensor\":\"\\u0000\",\"readings\":[1]}"), "escaped NUL"),
            (Self.utf8("{\"sensor\":\"\\ud800\",\"readings\":[1]}"), "lone surrogate escape"),
            (Self.utf8("{\"sensor\":\"\\x41\",\"readings\":[1]}"), "invalid escape"),
            (Self.utf8("{\"readings\":[1,]}"), "trailing comma"),
            (Self.utf8(valid + valid), "two documents"),
        ]
        let (payload, label) = cases[variant]
        return json(.malformedJSON, variant, "malformed JSON: \(label)", index: index, payload)
    }

    private mutating func emptyStrings(_ variant: Int, index: Int) -> HostileMessage {
        let empty = Data()
        let cases: [([HostileMessage.Property], String)] = [
            ([.responseTopic(empty)], "empty Response Topic"),
            ([.contentType(empty)], "empty Content Type"),
            ([.userProperty(name: empty, value: Self.utf8("v"))], "empty user property name"),
            ([.userProperty(name: Self.utf8("traceparent"), value: empty)], "empty traceparent"),
            ([.userProperty(name: empty, value: empty)], "empty user property"),
            ([.contentType(empty), .userProperty(name: empty, value: empty), .userProperty(name: Self.utf8("k"), value: empty)], "every string empty"),
        ]
        let (properties, label) = cases[variant]
        var message = validRequest(.emptyStrings, variant, label, index: index, extra: properties.filter { if case .responseTopic = $0 { false } else { true } })
        if variant == 0 {
            message.properties = message.properties.map { if case .responseTopic = $0 { .responseTopic(empty) } else { $0 } }
        }
        return message
    }

    private mutating func userProperties(_ variant: Int, index: Int) -> HostileMessage {
        func pair(_ name: String, _ value: String) -> HostileMessage.Property { .userProperty(name: Self.utf8(name), value: Self.utf8(value)) }
        let cases: [([HostileMessage.Property], String)] = [
            ((0..<500).map { pair("k\($0)", "v\($0)") }, "500 user properties"),
            ([pair("huge", String(repeating: "v", count: 60_000))], "60 KB user property value"),
            ([pair(String(repeating: "n", count: 60_000), "v")], "60 KB user property name"),
            ((0..<500).map { _ in pair("same", "value") }, "the same user property 500 times"),
            ([pair("status", "200"), pair("error", "forged"), pair("status", "500")], "forged status and error"),
            ([pair("traceparent", "00-" + String(repeating: "f", count: 32_000) + "-01")], "32 KB traceparent"),
            ([pair("traceparent", "not-a-trace\u{202E}"), pair("traceparent", "second")], "two odd traceparents"),
            ([pair("courier-device", targets.bystander), pair("courier-attempt", "999999"), pair("courier-deadline", "-1"), pair("courier-operation", "no.such")], "forged courier-* properties"),
        ]
        let (properties, label) = cases[variant]
        return validRequest(.userProperties, variant, label, index: index, extra: properties)
    }

    private mutating func contentType(_ variant: Int, index: Int) -> HostileMessage {
        let types = [
            (String(repeating: "t", count: 30_000), "30 KB Content Type"),
            ("application/json; charset=utf-16", "JSON in UTF-16"),
            ("\u{202E}txet/nialp", "right-to-left override"),
            ("text/plain\r\nX-Injected: 1", "CR LF in the Content Type"),
            ("application/json\"; level=error msg=\"forged", "quotes for log injection"),
        ]
        let (type, label) = types[variant]
        return validRequest(.contentType, variant, label, index: index, extra: [.contentType(Self.utf8(type))])
    }

    private mutating func correlationData(_ variant: Int, index: Int) -> HostileMessage {
        let cases: [(Data, String)] = [
            (Data(), "empty Correlation Data"),
            (bytes(65_535), "65,535 bytes of Correlation Data"),
            (bytes(16), "binary Correlation Data"),
            (Data(repeating: UInt8(ascii: "c"), count: 65), "65 bytes of Correlation Data (limit 64)"),
            (Self.utf8(String(repeating: "c", count: 54)) + Self.utf8(String(format: "%010d", index)), "64 bytes of Correlation Data"),
            (Self.utf8("\(targets.goodCorrelationPrefix)0.\(index % 8)"), "a good device's correlation, from another device"),
        ]
        let (data, label) = cases[variant]
        var message = validRequest(.correlationData, variant, label, index: index, remember: false)
        message.properties = message.properties.map { if case .correlationData = $0 { .correlationData(data) } else { $0 } }
        return message
    }

    private mutating func forbiddenResponseTopic(_ variant: Int, index: Int) -> HostileMessage {
        let device = device(), bystander = targets.bystander
        let good = Int.random(in: 0..<targets.goodDevices.count, using: &random)
        let goodCorrelation = "\(targets.goodCorrelationPrefix)\(good).\(Int.random(in: 0..<64, using: &random))"
        var sender = device
        var correlation: String?
        var topic: Data?
        let responseTopic: String
        let label: String
        switch variant {
        case 0: (responseTopic, label) = ("devices/\(bystander)/replies/x", "the bystander's namespace")
        case 1:
            (responseTopic, label) = ("devices/\(targets.goodDevices[good])/replies/rpc", "a good device's namespace, with its kind of correlation")
            correlation = goodCorrelation
        case 2: (responseTopic, label) = ("devices/\(bystander)/replies", "the bystander's namespace root")
        case 3: (responseTopic, label) = ("$SYS/broker/storm", "$SYS")
        case 4: (responseTopic, label) = ("courier/bridges/\(targets.bridgeID)/replies", "the bridge's own reply topic")
        case 5: (responseTopic, label) = ("courier/work/echo", "the work topic")
        case 6: (responseTopic, label) = ("devices/\(device)/replies/+", "+ in its own namespace")
        case 7: (responseTopic, label) = ("devices/\(device)/replies/#", "# in its own namespace")
        case 8: (responseTopic, label) = ("devices/\(device)/replies//x", "empty level")
        case 9: (responseTopic, label) = ("devices/\(device)/replies/", "trailing slash")
        case 10: (responseTopic, label) = ("devices/\(device)/repliesX/y", "a sibling of replies")
        case 11:
            // The prefix trick: a device whose id is the start of the bystander's.
            sender = String(bystander.dropLast(4))
            (responseTopic, label) = ("devices/\(bystander)/replies/x", "from a device whose id is a prefix of the bystander's")
        case 12:
            // Allowed: `..` is a level like any other, so this lies in the sender's own
            // namespace. A bridge that resolved it as a path would answer the bystander.
            (responseTopic, label) = ("devices/\(device)/replies/../../\(bystander)/replies/x", "dot segments that look like the bystander's namespace")
        case 13: (responseTopic, label) = ("devices/\(device)/replies/" + String(repeating: "r", count: 2_000), "over 1,024 bytes")
        case 14: (responseTopic, label) = ("Devices/\(device)/replies/x", "prefix in another case")
        case 15:
            (responseTopic, label) = ("devices/\(bystander)/replies/x", "the bystander's namespace from a 3.1.1-shaped topic")
            topic = Self.utf8("devices/\(device)/requests/echo/f\(index)")
        case 16:
            (responseTopic, label) = ("devices/\(targets.goodDevices[good])/replies/\(Self.operations[index % 2])/\(goodCorrelation)/200", "a good 3.1.1 device's reply topic")
            correlation = goodCorrelation
        case 17:
            // In its own namespace and short, but deeper than mosquitto lets anyone publish to
            // (201 levels): the broker would disconnect the bridge for replying there.
            (responseTopic, label) = ("devices/\(device)/replies/" + Array(repeating: "a", count: 300).joined(separator: "/"), "300 levels in its own namespace")
        default:
            (responseTopic, label) = ("devices/\(device)/replies/" + Array(repeating: "a", count: 126).joined(separator: "/"), "129 levels in its own namespace")
        }
        let operation = operation()
        return HostileMessage(
            category: .forbiddenResponseTopic, variant: variant, label: "forbidden Response Topic: \(label)",
            topic: topic ?? Self.request(sender, operation), payload: validPayload(for: operation),
            properties: [.responseTopic(Self.utf8(responseTopic)), .correlationData(Self.utf8(correlation ?? "f\(index)"))], qos: qos()
        )
    }

    private mutating func invalidProperties(_ variant: Int, index: Int) -> HostileMessage {
        let device = device()
        let cases: [([HostileMessage.Property], String)] = [
            ([.responseTopic(Self.utf8("devices/\(device)/replies/") + Data([0xFF]))], "invalid UTF-8 Response Topic"),
            ([.responseTopic(Self.utf8("devices/\(device)/replies/x") + Data([0]) + Self.utf8("y"))], "NUL in the Response Topic"),
            ([.responseTopic(Self.utf8("devices/\(device)/replies/\u{07}"))], "control character in the Response Topic"),
            ([.contentType(Data([0xC3, 0x28]))], "invalid UTF-8 Content Type"),
            ([.userProperty(name: Data([0xFF]), value: Self.utf8("v"))], "invalid UTF-8 user property name"),
            ([.userProperty(name: Self.utf8("k"), value: Data([0xED, 0xA0, 0x80]))], "surrogate in a user property value"),
            ([.responseTopic(Self.replies(device))], "Response Topic twice"),
            ([.correlationData(Self.utf8("again"))], "Correlation Data twice"),
            ([.payloadFormatIndicator(1), .payloadFormatIndicator(0)], "Payload Format Indicator twice"),
            ([.raw(identifier: 0x7F, bytes: Data([1]))], "unknown property 0x7F"),
            ([.raw(identifier: 0x23, bytes: Data([0, 0]))], "topic alias 0"),
            ([.raw(identifier: 0x0B, bytes: Data([1]))], "subscription identifier in a PUBLISH"),
            ([.raw(identifier: 0x11, bytes: Data([0, 0, 0, 1]))], "session expiry in a PUBLISH"),
        ]
        let (properties, label) = cases[variant]
        var message = validRequest(.invalidProperties, variant, label, index: index, remember: false)
        if variant <= 2 {
            message.properties = message.properties.filter { if case .responseTopic = $0 { false } else { true } }
        }
        message.properties += properties
        return message
    }

    private mutating func messageExpiry(_ variant: Int, index: Int) -> HostileMessage {
        let values: [(UInt32, String)] = [(0, "Message Expiry 0"), (1, "Message Expiry 1"), (UInt32.max, "Message Expiry 4294967295")]
        let (expiry, label) = values[variant]
        return validRequest(.messageExpiry, variant, label, index: index, extra: [.messageExpiry(expiry)])
    }

    private mutating func legacyRequest(_ variant: Int, index: Int) -> HostileMessage {
        let device = device(), operation = operation()
        let base = "devices/\(device)/requests/\(operation)"
        let cases: [(String, String)] = [
            ("\(base)/\(String(repeating: "r", count: 65))", "request id of 65 characters"),
            ("\(base)/", "empty request id"),
            ("\(base)/réq-\(index)", "non-ASCII request id"),
            ("\(base)/r \(index)", "space in the request id"),
            ("\(base)/..", "request id .."),
            ("\(base)/r\(index)/extra", "six levels"),
            ("\(base)/r\(index)/a/b", "seven levels"),
            (base, "no request id and no Response Topic"),
            ("devices/\(device)/requests/no.such.operation/r\(index)", "unknown operation"),
            ("\(base)/\(targets.goodCorrelationPrefix)0.\(index % 8)", "a good device's request id, from another device"),
            ("\(base)/r\(index)", "valid, QoS 0"),
            ("devices/\(device)/requests/telemetry.summary/r\(index)", "valid topic, payload not JSON"),
        ]
        let (topic, label) = cases[variant]
        var payload = validPayload(for: operation)
        if variant == 11 { payload = Self.utf8("not json") }
        if variant == 10 || variant == 2 {
            remember(device: device, operation: operation, identity: topic.split(separator: "/").last.map(String.init) ?? "", v5: false, payload: payload)
        }
        var message = bare(.legacyRequest, variant, "3.1.1: \(label)", topic: Self.utf8(topic), payload: payload, v311: true)
        if variant == 10 { message.qos = .atMostOnce }
        return message
    }

    private mutating func duplicate(_ variant: Int, index: Int) -> HostileMessage {
        guard let earlier = recent.isEmpty ? nil : pick(recent) else {
            return validRequest(.duplicate, variant, "duplicate (nothing to repeat yet)", index: index)
        }
        let samePayload = variant % 2 == 0
        let payload = samePayload ? earlier.payload : validPayload(for: earlier.operation)
        let label = "duplicate, \(samePayload ? "same" : "other") payload"
        if earlier.v5 {
            var properties: [HostileMessage.Property] = [.responseTopic(Self.replies(earlier.device)), .correlationData(Self.utf8(earlier.identity))]
            if variant >= 2 { properties[0] = .responseTopic(Self.utf8("devices/\(earlier.device)/replies/other")) }
            return HostileMessage(
                category: .duplicate, variant: variant, label: label + (variant >= 2 ? ", other Response Topic" : ""),
                topic: Self.request(earlier.device, earlier.operation), payload: payload, properties: properties, qos: qos()
            )
        }
        return bare(
            .duplicate, variant, "3.1.1 " + label,
            topic: Self.utf8("devices/\(earlier.device)/requests/\(earlier.operation)/\(earlier.identity)"), payload: payload, v311: true
        )
    }

    private mutating func noResponseTopic(_ variant: Int, index: Int) -> HostileMessage {
        var message = validRequest(.noResponseTopic, variant, ["no Response Topic", "no Response Topic, QoS 0", "no Response Topic, no Correlation Data"][variant], index: index, remember: false)
        message.properties = message.properties.filter { property in
            switch property {
            case .responseTopic: false
            case .correlationData: variant != 2
            default: true
            }
        }
        if variant == 1 { message.qos = .atMostOnce }
        return message
    }
}

extension HostileMessage {
    func with(topic: Data) -> HostileMessage {
        var copy = self
        copy.topic = topic
        return copy
    }
}
