@testable import CourierDevices
import CourierCore
import CourierTestTraits
import Foundation
import MQTT
import Testing

/// The storm's generator, as plain values: deterministic for a seed, every category and
/// variant, each category what it says, and nothing that impersonates a device it aims at.
/// Seconds of CPU in a debug build (thousands of messages, some of hundreds of KB): on threads
/// of their own, not the cooperative pool every suite shares.
@Suite(.timeLimit(.minutes(2)), .ownThreads)
struct HostileInputTests {
    static let targets = HostileTargets(
        hostileDevices: (0..<8).map { "storm-tok-h\($0)" },
        bystander: "storm-tok-bystander",
        goodDevices: ["storm-tok-g0", "storm-tok-g1"],
        goodCorrelationPrefix: "tok.g",
        bridgeID: "bridge-1"
    )

    static func messages(seed: UInt64 = 7, count: Int) -> [HostileMessage] {
        var input = HostileInput(seed: seed, targets: targets)
        return (0..<count).map { _ in input.next() }
    }

    /// One message of every variant of every category: the tour.
    static let tour = messages(count: HostileInput.tourLength)

    static func tour(_ category: HostileCategory) -> [HostileMessage] { tour.filter { $0.category == category } }

    static func responseTopic(_ message: HostileMessage) -> String? {
        message.clientForm?.properties.responseTopic
    }

    @Test
    func theSameSeedGivesTheSameMessages() {
        let count = HostileInput.tourLength + 300
        #expect(Self.messages(seed: 7, count: count) == Self.messages(seed: 7, count: count))
        #expect(Self.messages(seed: 7, count: count) != Self.messages(seed: 8, count: count))
    }

    @Test
    func theTourIsEveryVariantOfEveryCategoryInOrder() {
        #expect(Self.tour.map { "\($0.category)/\($0.variant)" } == HostileInput.tour.map { "\($0.0)/\($0.1)" })
        #expect(Set(Self.tour.map(\.category)) == Set(HostileCategory.allCases))
        for category in HostileCategory.allCases {
            #expect(Self.tour(category).map(\.variant) == Array(0..<category.variants), "\(category)")
            let labels = Self.tour(category).map(\.label)
            #expect(Set(labels).count == labels.count, "\(category) has two variants labelled alike: \(labels)")
        }
    }

    @Test
    func afterTheTourEveryCategoryStillComes() {
        let after = Self.messages(count: HostileInput.tourLength + 6_000).dropFirst(HostileInput.tourLength)
        let counts = Dictionary(grouping: after, by: \.category).mapValues(\.count)
        for category in HostileCategory.allCases {
            #expect(counts[category, default: 0] > 0, "\(category) never drawn in 6,000 messages")
        }
        // Heavy inputs are rare: 6,000 messages stay in tens of MB.
        let bytes = after.reduce(0) { $0 + $1.size }
        #expect(bytes < 60_000_000, "\(bytes) bytes")
    }

    @Test
    func payloadCategoriesCarryWhatTheySay() {
        #expect(Self.tour(.oversizedPayload).allSatisfy { $0.payload.count >= 300_000 })
        #expect(Self.tour(.boundaryPayload).map(\.payload.count) == [262_144, 262_145])
        #expect(Self.tour(.deepJSON).contains { $0.payload == Data(String(repeating: "[", count: 100_000).utf8) })
        let numbers = Self.tour(.nonFiniteJSON).map { String(decoding: $0.payload, as: UTF8.self) }
        for text in ["NaN", "Infinity", "1e999", "-1e999"] {
            #expect(numbers.contains("{\"readings\":[\(text)]}"), "\(text)")
        }
        #expect(Self.tour(.nonNumericJSON).contains { $0.payload == Data("{\"readings\":[\"a\",\"b\"]}".utf8) })
        #expect(Self.tour(.hugeArrayJSON).contains { $0.payload.count > 150_000 })
        #expect(Self.tour(.binaryPayload).contains { String(validating: $0.payload, as: UTF8.self) == nil })
        let indicated = Self.tour(.payloadFormat).filter { $0.properties.contains(.payloadFormatIndicator(1)) }
        #expect(indicated.contains { String(validating: $0.payload, as: UTF8.self) == nil }, "indicator 1 on invalid UTF-8")
    }

    @Test
    func propertyCategoriesCarryWhatTheySay() {
        func correlations(_ category: HostileCategory) -> [Int] {
            Self.tour(category).compactMap { message in
                message.properties.lazy.compactMap { if case .correlationData(let data) = $0 { data.count } else { nil } }.first
            }
        }
        #expect(Set(correlations(.correlationData)).isSuperset(of: [0, 65_535, 65, 64, 16]))
        let users = Self.tour(.userProperties).map { message in
            message.properties.filter { if case .userProperty = $0 { true } else { false } }
        }
        #expect(users.contains { $0.count == 500 })
        #expect(users.contains { $0.contains { if case .userProperty(_, let value) = $0 { value.count >= 60_000 } else { false } } })
        let expiries = Self.tour(.messageExpiry).flatMap { $0.properties.compactMap { if case .messageExpiry(let value) = $0 { value } else { nil } } }
        #expect(expiries == [0, 1, UInt32.max])
        #expect(Self.tour.contains { $0.qos == .atMostOnce } && Self.tour.contains { $0.qos == .atLeastOnce })
    }

    @Test
    func whatLibmosquittoCannotSendGoesOnTheWire() {
        for message in Self.tour(.topicInvalid) + Self.tour(.emptyStrings) + Self.tour(.invalidProperties) {
            #expect(message.needsWire, "\(message.category): \(message.label)")
        }
        #expect(Self.tour(.emptyStrings).allSatisfy { message in
            message.properties.contains { property in
                switch property {
                case .responseTopic(let text), .contentType(let text): text.isEmpty
                case .userProperty(let name, let value): name.isEmpty || value.isEmpty
                default: false
                }
            }
        })
        // Everything else goes through an MQTT client, byte for byte.
        for message in Self.tour where !message.needsWire {
            let form = try! #require(message.clientForm)
            #expect(Data(form.topic.utf8) == message.topic, "\(message.label)")
            if message.protocolVersion == .v311 { #expect(message.properties.isEmpty) }
        }
        #expect(Self.tour.filter(\.needsWire).count < Self.tour.count / 4)
        #expect(Self.tour.contains { $0.protocolVersion == .v311 } && Self.tour.contains { $0.protocolVersion == .v5 })
    }

    /// Every forbidden Response Topic is refused by Courier's own intake, and some of them aim
    /// at the bystander's and the good devices' namespaces.
    @Test
    func forbiddenResponseTopicsAreForbidden() throws {
        let intake = RequestIntake(configuration: CourierConfiguration())
        let messages = Self.tour(.forbiddenResponseTopic)
        for message in messages {
            let form = try #require(message.clientForm, "\(message.label)")
            let request = IncomingRequest(
                topic: form.topic, payload: message.payload, responseTopic: form.properties.responseTopic, correlationData: form.properties.correlationData
            )
            guard case .reject(_, let code, _) = intake.evaluate(request, now: 0) else {
                // `..` is a level like any other in MQTT: this one lies in the sender's own
                // namespace, however much it looks like the bystander's.
                let levels = form.topic.split(separator: "/")
                #expect(
                    message.label.contains("dot segments") && form.properties.responseTopic?.hasPrefix("devices/\(levels[1])/replies/") == true,
                    "\(message.label): \(form.properties.responseTopic ?? "") not rejected"
                )
                continue
            }
            #expect(code == .forbiddenResponseTopic, "\(message.label)")
        }
        let aims = messages.compactMap(Self.responseTopic)
        #expect(aims.contains { $0.hasPrefix("devices/\(Self.targets.bystander)/") })
        #expect(aims.contains { $0.hasPrefix("devices/storm-tok-g") })
        #expect(aims.contains { $0.hasPrefix("$SYS/") })
        #expect(aims.contains { $0 == "courier/bridges/bridge-1/replies" })
        #expect(aims.contains { $0.hasPrefix("courier/work/") })
    }

    /// The generator never speaks as the devices it aims at: no message is published in the
    /// bystander's or a good device's namespace, so whatever reaches them came from Courier.
    /// And whatever Courier's intake accepts is answered in the sender's own namespace.
    @Test
    func noMessageImpersonatesTheDevicesItAimsAt() {
        let protected = [Self.targets.bystander] + Self.targets.goodDevices
        let intake = RequestIntake(configuration: CourierConfiguration())
        for message in Self.messages(count: HostileInput.tourLength + 3_000) {
            let levels = message.topicText.split(separator: "/", omittingEmptySubsequences: false)
            if levels.count > 1, levels[0] == "devices" {
                #expect(!protected.contains(String(levels[1])), "\(message.label) is published as \(levels[1])")
            }
            guard let form = message.clientForm else { continue }
            let request = IncomingRequest(
                topic: form.topic, payload: message.payload, responseTopic: form.properties.responseTopic,
                correlationData: form.properties.correlationData, messageExpiry: form.properties.messageExpiry
            )
            if case .accept(let record) = intake.evaluate(request, now: 0), let reply = DeviceReply.make(for: record, status: 200, code: nil, payload: Data(), contentType: nil, topics: Topics()) {
                #expect(reply.topic.hasPrefix("devices/\(record.device)/replies"), "\(message.label): reply to \(reply.topic)")
                #expect(!protected.contains(record.device))
            }
        }
    }

    @Test
    func wirePacketsAreEncodedAsMQTTSays() {
        #expect(MQTTWire.variableInteger(0) == Data([0]))
        #expect(MQTTWire.variableInteger(127) == Data([0x7F]))
        #expect(MQTTWire.variableInteger(321) == Data([0xC1, 0x02]))
        #expect(MQTTWire.variableInteger(268_435_455) == Data([0xFF, 0xFF, 0xFF, 0x7F]))
        let message = HostileMessage(
            category: .emptyStrings, variant: 0, label: "t", topic: Data("a/b".utf8), payload: Data("x".utf8),
            properties: [.responseTopic(Data()), .userProperty(name: Data(), value: Data("v".utf8))], qos: .atLeastOnce
        )
        // PUBLISH QoS 1: topic "a/b", packet id 7, properties (08 00 00)(26 00 00 00 01 76), payload "x".
        let expected: [UInt8] = [0x32, 18, 0, 3, 0x61, 0x2F, 0x62, 0, 7, 9, 0x08, 0, 0, 0x26, 0, 0, 0, 1, 0x76, 0x78]
        #expect(MQTTWire.publish(message, packetID: 7, version: .v5) == Data(expected))
        var legacy = message
        legacy.protocolVersion = .v311
        legacy.qos = .atMostOnce
        #expect(MQTTWire.publish(legacy, packetID: 7, version: .v311) == Data([0x30, 6, 0, 3, 0x61, 0x2F, 0x62, 0x78]))
        #expect(MQTTWire.connect(clientID: "c", version: .v311) == Data([0x10, 13, 0, 4, 0x4D, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 1, 0x63]))
    }

    @Test
    func mosquittoTextRefusesWhatMosquittoRefuses() {
        #expect(MosquittoText.string(Data("devices/d/é😀".utf8)) != nil)
        for bytes: [UInt8] in [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0x61, 0x00], [0x01], [0x7F], [0xC2, 0x85], [0xEF, 0xBF, 0xBF], [0xEF, 0xB7, 0x90]] {
            #expect(MosquittoText.string(Data(bytes)) == nil, "\(bytes)")
        }
    }
}
