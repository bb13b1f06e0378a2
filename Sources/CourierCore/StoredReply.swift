import Foundation
import MQTT

/// A final reply as the store stores it.
package struct StoredReply: Sendable, Equatable {
    /// HTTP-style status (200, 4xx, 5xx).
    package var status: Int
    /// The error code (`timeout`, `worker_error`, ...), nil for a plain success.
    package var code: String?
    package var payload: Data
    package var contentType: String?
    package var userProperties: [UserProperty]
    /// Why the request ended this way, kept for dead letters.
    package var reason: String?

    package init(
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
