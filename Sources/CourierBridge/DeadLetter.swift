import CourierCore
import Foundation

/// The JSON published to `courier/deadletters/{operation}` and listed by the HTTP API.
public struct DeadLetter: Codable, Sendable, Equatable {
    public var id: String
    public var device: String
    public var operation: String
    public var reason: String
    public var state: String
    public var attempts: Int
    /// Base64.
    public var correlationData: String?
    public var requestId: String?
    /// Base64.
    public var payload: String
    public var receivedAt: Int64
    public var updatedAt: Int64

    public init(_ record: RequestRecord) {
        id = record.id
        device = record.device
        operation = record.operation
        reason = record.reason ?? record.replyCode ?? record.state.rawValue
        state = record.state.rawValue
        attempts = record.attempts
        correlationData = record.correlationData?.base64EncodedString()
        requestId = record.requestId
        payload = record.payload.base64EncodedString()
        receivedAt = record.receivedAt
        updatedAt = record.updatedAt
    }

    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)) ?? Data()
    }
}
