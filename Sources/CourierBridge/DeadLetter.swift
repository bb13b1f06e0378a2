import CourierCore
import Foundation

/// The JSON published to `courier/deadletters/{operation}` and listed by the HTTP API.
package struct DeadLetter: Codable, Sendable, Equatable {
    package var id: String
    package var device: String
    package var operation: String
    package var reason: String
    package var state: String
    package var attempts: Int
    /// Base64.
    package var correlationData: String?
    package var requestId: String?
    /// Base64.
    package var payload: String
    package var receivedAt: Int64
    package var updatedAt: Int64

    package init(_ record: RequestRecord) {
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

    package func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)) ?? Data()
    }
}
