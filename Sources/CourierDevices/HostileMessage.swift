import Foundation
import MQTT

/// One message of a hostile-input storm, as the bytes that go on the wire: a topic, a payload,
/// MQTT 5 PUBLISH properties, a QoS and a protocol version. Made by ``HostileInput``.
///
/// Strings are bytes here, not `String`s, because some of these messages are meant to be
/// invalid UTF-8 or to carry what no libmosquitto client sends (an empty string property, a
/// wildcard in a topic name, a property twice). ``clientForm`` is the message as an
/// ``MQTTClient`` publishes it, when one can; the others go out through a ``WireConnection``.
package struct HostileMessage: Sendable, Equatable {
    /// One PUBLISH property, encoded as given.
    package enum Property: Sendable, Equatable {
        case payloadFormatIndicator(UInt8)
        case messageExpiry(UInt32)
        case contentType(Data)
        case responseTopic(Data)
        case correlationData(Data)
        case userProperty(name: Data, value: Data)
        /// A property identifier and the bytes after it, as they are: an identifier MQTT does
        /// not define, or one PUBLISH must not carry (topic alias 0, subscription identifier).
        case raw(identifier: UInt8, bytes: Data)
    }

    package var category: HostileCategory
    /// Which of the category's variants this is (see ``HostileCategory/variants``).
    package var variant: Int
    /// What the message is, in a few words, for reports.
    package var label: String
    package var topic: Data
    package var payload: Data
    package var properties: [Property]
    package var qos: MQTTQoS
    package var protocolVersion: MQTTProtocolVersion

    package init(
        category: HostileCategory,
        variant: Int,
        label: String,
        topic: Data,
        payload: Data,
        properties: [Property] = [],
        qos: MQTTQoS = .atLeastOnce,
        protocolVersion: MQTTProtocolVersion = .v5
    ) {
        self.category = category
        self.variant = variant
        self.label = label
        self.topic = topic
        self.payload = payload
        self.properties = properties
        self.qos = qos
        self.protocolVersion = protocolVersion
    }

    /// The topic as text, with invalid bytes replaced, for reports.
    package var topicText: String { String(decoding: topic, as: UTF8.self) }

    /// Bytes on the wire, roughly: topic, payload and properties.
    package var size: Int {
        topic.count + payload.count + properties.reduce(0) { sum, property in
            switch property {
            case .payloadFormatIndicator: sum + 2
            case .messageExpiry: sum + 5
            case .contentType(let bytes), .responseTopic(let bytes), .correlationData(let bytes): sum + 3 + bytes.count
            case .userProperty(let name, let value): sum + 5 + name.count + value.count
            case .raw(_, let bytes): sum + 1 + bytes.count
            }
        }
    }

    /// The message as an ``MQTTClient`` (libmosquitto) publishes it, or nil when libmosquitto
    /// would refuse it or change it: a topic name that is empty, has a wildcard or is not
    /// text mosquitto accepts (see ``MosquittoText``), a string property that is empty (left
    /// out, see ``MQTTProperties/sendable``) or not such text, a property MQTTProperties
    /// cannot hold, or one given twice.
    package var clientForm: (topic: String, properties: MQTTProperties)? {
        guard !topic.isEmpty, topic.count <= Int(UInt16.max), !topic.contains(UInt8(ascii: "+")), !topic.contains(UInt8(ascii: "#")),
            let topicText = MosquittoText.string(topic)
        else { return nil }
        if protocolVersion == .v311 { return properties.isEmpty ? (topicText, MQTTProperties()) : nil }
        var result = MQTTProperties()
        func text(_ bytes: Data) -> String? {
            bytes.isEmpty ? nil : MosquittoText.string(bytes)
        }
        for property in properties {
            switch property {
            case .payloadFormatIndicator(let value):
                guard result.payloadFormatIndicator == nil else { return nil }
                result.payloadFormatIndicator = value
            case .messageExpiry(let value):
                guard result.messageExpiry == nil else { return nil }
                result.messageExpiry = value
            case .contentType(let bytes):
                guard result.contentType == nil, let value = text(bytes) else { return nil }
                result.contentType = value
            case .responseTopic(let bytes):
                guard result.responseTopic == nil, let value = text(bytes) else { return nil }
                result.responseTopic = value
            case .correlationData(let bytes):
                guard result.correlationData == nil, bytes.count <= Int(UInt16.max) else { return nil }
                result.correlationData = bytes
            case .userProperty(let name, let value):
                guard let name = text(name), let value = text(value) else { return nil }
                result.userProperties.append(.init(name, value))
            case .raw:
                return nil
            }
        }
        return (topicText, result)
    }

    /// True when only a ``WireConnection`` can send this message as it is.
    package var needsWire: Bool { clientForm == nil }
}

/// Text as mosquitto 2.0 accepts it in a topic or a string property (`mosquitto_validate_utf8`):
/// well-formed UTF-8 without U+0000, C0 or C1 control characters or noncharacters. The broker
/// disconnects a client that sends anything else; libmosquitto refuses to send it.
package enum MosquittoText {
    /// The bytes as a `String`, or nil when mosquitto would refuse them.
    package static func string(_ bytes: Data) -> String? {
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value <= 0x1F || (0x7F...0x9F).contains(value) || (0xFDD0...0xFDEF).contains(value) || value & 0xFFFE == 0xFFFE {
                return nil
            }
        }
        return text
    }
}
