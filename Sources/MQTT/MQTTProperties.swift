internal import CMosquitto
import Foundation

/// Quality of service of a publish or subscription.
public enum MQTTQoS: Int, Sendable, Comparable {
    case atMostOnce = 0
    case atLeastOnce = 1

    public static func < (lhs: MQTTQoS, rhs: MQTTQoS) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The MQTT 5 PUBLISH properties a request/reply exchange uses. Ignored on 3.1.1 connections.
public struct MQTTProperties: Sendable, Equatable {
    public var responseTopic: String?
    public var correlationData: Data?
    /// Seconds until the broker discards the message.
    public var messageExpiry: UInt32?
    public var contentType: String?
    /// 1 when the payload is UTF-8 text.
    public var payloadFormatIndicator: UInt8?
    public var userProperties: [UserProperty]

    public init(
        responseTopic: String? = nil,
        correlationData: Data? = nil,
        messageExpiry: UInt32? = nil,
        contentType: String? = nil,
        payloadFormatIndicator: UInt8? = nil,
        userProperties: [UserProperty] = []
    ) {
        self.responseTopic = responseTopic
        self.correlationData = correlationData
        self.messageExpiry = messageExpiry
        self.contentType = contentType
        self.payloadFormatIndicator = payloadFormatIndicator
        self.userProperties = userProperties
    }

    /// The value of the first user property with this name.
    public func userProperty(_ name: String) -> String? {
        userProperties.first(named: name)
    }

    var isEmpty: Bool { self == MQTTProperties() }

    /// These properties as they go on the wire: without a Response Topic, Content Type or user
    /// property that libmosquitto 2.0.11 cannot send faithfully, and which is left out instead:
    /// - an empty string: libmosquitto crashes copying it (and an empty Content Type or
    ///   Response Topic says no more than an absent one);
    /// - a string MQTT does not allow: U+0000 (which C would cut short, maybe to nothing),
    ///   other control characters, noncharacters (as `mosquitto_validate_utf8` says). The
    ///   broker disconnects a client that sends one, and libmosquitto sends the message again
    ///   after every reconnect, so one such property would keep the client off the broker;
    /// - a string over 65,535 bytes, which libmosquitto would cut to its length modulo 65,536.
    public var sendable: MQTTProperties {
        func unsendable(_ text: String) -> Bool {
            let length = text.utf8.count
            return length == 0 || length > Int(UInt16.max) || mosquitto_validate_utf8(text, Int32(length)) != Mosquitto.success
        }
        var sendable = self
        if let topic = responseTopic, unsendable(topic) { sendable.responseTopic = nil }
        if let type = contentType, unsendable(type) { sendable.contentType = nil }
        if userProperties.contains(where: { unsendable($0.name) || unsendable($0.value) }) {
            sendable.userProperties.removeAll { unsendable($0.name) || unsendable($0.value) }
        }
        return sendable
    }
}

/// A received PUBLISH, copied out of libmosquitto's buffers.
public struct MQTTMessage: Sendable {
    public var topic: String
    public var payload: Data
    public var qos: MQTTQoS
    public var retain: Bool
    public var properties: MQTTProperties

    public init(topic: String, payload: Data, qos: MQTTQoS, retain: Bool = false, properties: MQTTProperties = .init()) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }
}

/// What the broker said about a publish: for QoS 1 the PUBACK reason code, for QoS 0 that
/// the message was written to the socket.
public struct PublishAck: Sendable, Equatable {
    /// The PUBACK reason code (0 for QoS 0 and for MQTT 3.1.1).
    public var reasonCode: Int

    /// True unless the broker refused the message (reason >= 0x80) or had no subscriber for it
    /// (reason 16, "no matching subscribers").
    public var isDelivered: Bool { reasonCode < 0x80 && reasonCode != Self.noMatchingSubscribers }

    public static let noMatchingSubscribers = 16
}
