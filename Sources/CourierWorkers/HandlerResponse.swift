import CourierCore
import Foundation
import MQTT

/// A handler's reply: a status (200 unless said otherwise), the payload and its properties.
public struct HandlerResponse: Sendable, Equatable {
    /// HTTP-style status sent back as the `status` user property; 200 for a plain success.
    public var status: Int
    public var payload: Data
    public var contentType: String?
    /// Extra user properties for the reply.
    public var userProperties: [UserProperty]

    public init(status: Int = 200, payload: Data, contentType: String? = nil, userProperties: [UserProperty] = []) {
        self.status = status
        self.payload = payload
        self.contentType = contentType
        self.userProperties = userProperties
    }

    /// A JSON reply (`application/json`) with the value encoded.
    public static func json(_ value: some Encodable, status: Int = 200) throws -> HandlerResponse {
        HandlerResponse(status: status, payload: try JSONCoding.encode(value), contentType: JSONCoding.contentType)
    }
}
