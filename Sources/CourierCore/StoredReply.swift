import Foundation
import MQTT

/// A final reply as the store stores it.
public struct StoredReply: Sendable, Equatable {
    /// HTTP-style status (200, 4xx, 5xx).
    public var status: Int
    /// The error code (`timeout`, `worker_error`, ...), nil for a plain success.
    public var code: String?
    public var payload: Data
    public var contentType: String?
    public var userProperties: [UserProperty]
    /// Why the request ended this way, kept for dead letters.
    public var reason: String?

    public init(
        status: Int,
        code: String? = nil,
        payload: Data = Data(),
        contentType: String? = nil,
        userProperties: [UserProperty] = [],
        reason: String? = nil
    ) {
        self.status = status
        self.code = code
        self.payload = payload
        self.contentType = contentType
        self.userProperties = userProperties
        self.reason = reason
    }
}
