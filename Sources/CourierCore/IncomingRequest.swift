import Foundation
import MQTT

/// A device request as it arrived, before validation: the transport's fields, copied.
public struct IncomingRequest: Sendable {
    public var topic: String
    public var payload: Data
    public var qos: Int
    public var responseTopic: String?
    public var correlationData: Data?
    /// Seconds, from the MQTT 5 Message Expiry Interval.
    public var messageExpiry: UInt32?
    public var contentType: String?
    public var payloadFormatIndicator: Int?
    public var userProperties: [UserProperty]

    public init(
        topic: String,
        payload: Data,
        qos: Int = 1,
        responseTopic: String? = nil,
        correlationData: Data? = nil,
        messageExpiry: UInt32? = nil,
        contentType: String? = nil,
        payloadFormatIndicator: Int? = nil,
        userProperties: [UserProperty] = []
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.responseTopic = responseTopic
        self.correlationData = correlationData
        self.messageExpiry = messageExpiry
        self.contentType = contentType
        self.payloadFormatIndicator = payloadFormatIndicator
        self.userProperties = userProperties
    }
}
