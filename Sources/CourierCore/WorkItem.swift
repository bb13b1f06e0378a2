import Foundation
import MQTT

/// What a worker is handed: one attempt at one request.
public struct WorkItem: Sendable, Equatable {
    /// The bridge's request id, opaque to workers.
    public var requestID: String
    public var device: String
    public var operation: String
    public var attempt: Int
    /// Unix milliseconds.
    public var deadline: Int64
    public var payload: Data
    public var contentType: String?
    public var payloadFormatIndicator: Int?
    /// The device's own user properties.
    public var userProperties: [UserProperty]

    public init(
        requestID: String,
        device: String,
        operation: String,
        attempt: Int,
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
}

/// A worker's answer to one attempt.
public struct WorkResult: Sendable, Equatable {
    public var status: Int
    public var payload: Data
    public var contentType: String?
    public var userProperties: [UserProperty]

    public init(status: Int = 200, payload: Data, contentType: String? = nil, userProperties: [UserProperty] = []) {
        self.status = status
        self.payload = payload
        self.contentType = contentType
        self.userProperties = userProperties
    }
}
