import CourierCore
import Foundation
import MQTT

/// What a handler is given: the device's payload and properties, and where the attempt stands.
public struct HandlerRequest: Sendable, Equatable {
    /// The bridge's id for the request: opaque, useful to correlate logs.
    public var requestID: String
    /// The device that asked (the `{device}` topic level).
    public var device: String
    /// The operation asked for.
    public var operation: String
    /// Which attempt this is, from 1; a handler may see a request again after a timeout.
    public var attempt: Int
    /// When the device stops waiting, in unix milliseconds. Work past it is wasted.
    public var deadline: Int64
    /// The request payload, as the device sent it.
    public var payload: Data
    /// The device's Content Type, if it set one.
    public var contentType: String?
    /// The device's Payload Format Indicator (1 means UTF-8 text), if it set one.
    public var payloadFormatIndicator: Int?
    /// The device's own user properties, in order.
    public var userProperties: [UserProperty]

    public init(
        requestID: String = "",
        device: String,
        operation: String,
        attempt: Int = 1,
        deadline: Int64,
        payload: Data,
        contentType: String? = nil,
        payloadFormatIndicator: Int? = nil,
        userProperties: [UserProperty] = []
    ) {
        self.requestID = requestID
        self.device = device
        self.operation = operation
        self.attempt = attempt
        self.deadline = deadline
        self.payload = payload
        self.contentType = contentType
        self.payloadFormatIndicator = payloadFormatIndicator
        self.userProperties = userProperties
    }

    /// Time left until the deadline (negative once it has passed).
    public func timeLeft(now: Date = Date()) -> Duration {
        .milliseconds(deadline - unixMillis(now))
    }
}
