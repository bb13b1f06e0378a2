internal import CMosquitto
import Foundation

/// Process-wide libmosquitto set-up and error text. Everything that touches C lives in this
/// module; nothing above it sees a pointer.
enum Mosquitto {
    /// `mosquitto_lib_init` is not thread safe; a static `let` runs it exactly once.
    static let initialized: Bool = {
        mosquitto_lib_init()
        return true
    }()

    static let success = Int32(MOSQ_ERR_SUCCESS.rawValue)
    static let noConnection = Int32(MOSQ_ERR_NO_CONN.rawValue)

    /// Throws for anything but `MOSQ_ERR_SUCCESS`.
    static func check(_ code: Int32) throws(MQTTError) {
        guard code != success else { return }
        throw error(code)
    }

    static func error(_ code: Int32) -> MQTTError {
        if code == noConnection { return .notConnected }
        return .library(code: Int(code), message: String(cString: mosquitto_strerror(code)))
    }

    static func reasonString(_ code: Int32) -> String {
        String(cString: mosquitto_reason_string(code))
    }

    /// libmosquitto's answers that say the message itself can never be sent as it is.
    static let permanentErrors = Set(
        [
            MOSQ_ERR_INVAL, MOSQ_ERR_PAYLOAD_SIZE, MOSQ_ERR_MALFORMED_UTF8, MOSQ_ERR_DUPLICATE_PROPERTY,
            MOSQ_ERR_QOS_NOT_SUPPORTED, MOSQ_ERR_OVERSIZE_PACKET,
        ].map { Int($0.rawValue) }
    )
}

extension MQTTError {
    /// True when publishing the same message again cannot succeed (too large for the broker,
    /// malformed UTF-8, an invalid property); false for a lost connection or a shutdown.
    public var isPermanent: Bool {
        switch self {
        case .library(let code, _): Mosquitto.permanentErrors.contains(code)
        case .invalidConfiguration: true
        case .connectionRefused, .notConnected, .shutdown, .subscriptionRefused: false
        }
    }
}

/// A property list built fresh for one call and freed after it.
///
/// A list received from libmosquitto must never be passed back to `mosquitto_publish_v5`: only
/// its first property would be sent. So every outgoing list is built here from Swift values.
///
/// Empty strings are left out (see ``MQTTProperties/sendable``): libmosquitto 2.0.11 keeps an
/// empty string property as a NULL pointer, and `mosquitto_publish_v5` then crashes copying it.
struct OutgoingProperties: ~Copyable {
    private(set) var list: OpaquePointer?

    init(_ properties: MQTTProperties) throws(MQTTError) {
        func add(_ code: Int32) throws(MQTTError) { try Mosquitto.check(code) }
        let properties = properties.sendable
        if let topic = properties.responseTopic {
            try add(mosquitto_property_add_string(&list, id(MQTT_PROP_RESPONSE_TOPIC), topic))
        }
        if let data = properties.correlationData {
            guard data.count <= Int(UInt16.max) else { throw .invalidConfiguration("correlation data over 65535 bytes") }
            let code = data.withUnsafeBytes { bytes in
                mosquitto_property_add_binary(&list, id(MQTT_PROP_CORRELATION_DATA), bytes.baseAddress, UInt16(data.count))
            }
            try add(code)
        }
        if let expiry = properties.messageExpiry {
            try add(mosquitto_property_add_int32(&list, id(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL), expiry))
        }
        if let contentType = properties.contentType {
            try add(mosquitto_property_add_string(&list, id(MQTT_PROP_CONTENT_TYPE), contentType))
        }
        if let indicator = properties.payloadFormatIndicator {
            try add(mosquitto_property_add_byte(&list, id(MQTT_PROP_PAYLOAD_FORMAT_INDICATOR), indicator))
        }
        for property in properties.userProperties {
            try add(mosquitto_property_add_string_pair(&list, id(MQTT_PROP_USER_PROPERTY), property.name, property.value))
        }
    }

    /// CONNECT properties: session expiry and receive maximum.
    init(sessionExpiry: UInt32, receiveMaximum: UInt16) throws(MQTTError) {
        try Mosquitto.check(mosquitto_property_add_int32(&list, id(MQTT_PROP_SESSION_EXPIRY_INTERVAL), sessionExpiry))
        try Mosquitto.check(mosquitto_property_add_int16(&list, id(MQTT_PROP_RECEIVE_MAXIMUM), receiveMaximum))
    }

    /// Hands the list to a library call that takes ownership on success (`mosquitto_will_set_v5`).
    mutating func take() -> OpaquePointer? {
        defer { list = nil }
        return list
    }

    deinit {
        var owned = list
        if owned != nil { mosquitto_property_free_all(&owned) }
    }
}

private func id(_ property: mqtt5_property) -> Int32 { Int32(property.rawValue) }

extension MQTTProperties {
    /// Copies a received property list into Swift values. The list is freed by libmosquitto
    /// when the callback returns.
    init(copying list: OpaquePointer?) {
        self.init()
        var cursor = list
        while let property = cursor {
            switch mosquitto_property_identifier(property) {
            case id(MQTT_PROP_RESPONSE_TOPIC):
                responseTopic = Self.readString(property, MQTT_PROP_RESPONSE_TOPIC)
            case id(MQTT_PROP_CONTENT_TYPE):
                contentType = Self.readString(property, MQTT_PROP_CONTENT_TYPE)
            case id(MQTT_PROP_CORRELATION_DATA):
                var value: UnsafeMutableRawPointer?
                var length: UInt16 = 0
                if mosquitto_property_read_binary(property, id(MQTT_PROP_CORRELATION_DATA), &value, &length, false) != nil {
                    correlationData = value.map { Data(bytes: $0, count: Int(length)) } ?? Data()
                    free(value)
                }
            case id(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL):
                var value: UInt32 = 0
                if mosquitto_property_read_int32(property, id(MQTT_PROP_MESSAGE_EXPIRY_INTERVAL), &value, false) != nil {
                    messageExpiry = value
                }
            case id(MQTT_PROP_PAYLOAD_FORMAT_INDICATOR):
                var value: UInt8 = 0
                if mosquitto_property_read_byte(property, id(MQTT_PROP_PAYLOAD_FORMAT_INDICATOR), &value, false) != nil {
                    payloadFormatIndicator = value
                }
            case id(MQTT_PROP_USER_PROPERTY):
                var name: UnsafeMutablePointer<CChar>?
                var value: UnsafeMutablePointer<CChar>?
                if mosquitto_property_read_string_pair(property, id(MQTT_PROP_USER_PROPERTY), &name, &value, false) != nil {
                    userProperties.append(UserProperty(String(cString: name!), String(cString: value!)))
                    free(name)
                    free(value)
                }
            default:
                break
            }
            cursor = mosquitto_property_next(property)
        }
    }

    private static func readString(_ property: OpaquePointer, _ identifier: mqtt5_property) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        guard mosquitto_property_read_string(property, id(identifier), &value, false) != nil, let value else { return nil }
        defer { free(value) }
        return String(cString: value)
    }
}
