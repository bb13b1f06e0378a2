import Foundation
import MQTT

/// A device request as it arrived, before validation: the transport's fields, copied.
package struct IncomingRequest: Sendable {
    package var topic: String
    package var payload: Data
    package var qos: Int
    package var responseTopic: String?
    package var correlationData: Data?
    /// Seconds, from the MQTT 5 Message Expiry Interval.
    package var messageExpiry: UInt32?
    package var contentType: String?
    package var payloadFormatIndicator: Int?
    package var userProperties: [UserProperty]

    package init(
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
