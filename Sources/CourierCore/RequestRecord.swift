import Foundation
import MQTT

/// How the device asked, which decides how the reply is addressed.
package enum DeviceProtocol: String, Sendable, Codable {
    /// MQTT 5: the reply goes to the Response Topic with the Correlation Data.
    case mqtt5
    /// MQTT 3.1.1: the request id is a topic level and the status is the reply topic's last level.
    case mqtt311
    /// The HTTP API (Asynchronous Request-Reply): the result is fetched, nothing is published.
    case http
}

/// Which way a record goes: a device's request to a worker, or a backend's command to a
/// device.
package enum RequestKind: String, Sendable, Codable {
    /// A request from a device (or the HTTP API) for a worker.
    case request
    /// A command for a device (`deviceProtocol` is how the device talks); the device answers it
    /// as a worker answers a request.
    case command
}

/// One request, as the store keeps it: the pending correlation and, later, its outcome.
package struct RequestRecord: Sendable, Equatable, Codable {
    /// The bridge's own id (``newID(now:)``): a time prefix and 128 random bits, hex. Workers echo
    /// it; devices never see it.
    package var id: String
    package var device: String
    package var operation: String
    package var deviceProtocol: DeviceProtocol
    /// MQTT 5 correlation data, echoed byte for byte.
    package var correlationData: Data?
    /// MQTT 3.1.1 request id, or the HTTP idempotency key.
    package var requestId: String?
    /// Key for duplicate suppression; nil when the request has no identity.
    package var identity: String?
    /// Where the reply goes; nil when nobody is listening for one.
    package var responseTopic: String?
    package var qos: Int
    package var payload: Data
    package var contentType: String?
    package var payloadFormatIndicator: Int?
    package var userProperties: [UserProperty]
    package var state: RequestState
    package var attempts: Int
    /// Unix milliseconds.
    package var receivedAt: Int64
    package var updatedAt: Int64
    package var deadline: Int64
    /// When the bridge must look at the request again (attempt timeout, retry, deadline); nil
    /// when no timer is due.
    package var wakeAt: Int64?
    package var replyStatus: Int?
    package var replyCode: String?
    package var replyPayload: Data?
    package var replyContentType: String?
    package var replyUserProperties: [UserProperty]
    /// Set once the broker acknowledged the final reply (or nothing had to be published).
    package var deliveredAt: Int64?
    /// Why a dead letter is one (`forbidden_response_topic`, `worker_error`, ...).
    package var reason: String?
    /// A device's request, or a command to a device.
    package var kind: RequestKind = .request

    package init(
        id: String,
        device: String,
        operation: String,
        deviceProtocol: DeviceProtocol,
        correlationData: Data? = nil,
        requestId: String? = nil,
        identity: String? = nil,
        responseTopic: String? = nil,
        qos: Int = 1,
        payload: Data = Data(),
        contentType: String? = nil,
        payloadFormatIndicator: Int? = nil,
        userProperties: [UserProperty] = [],
        state: RequestState = .received,
        attempts: Int = 0,
        receivedAt: Int64,
        deadline: Int64,
        wakeAt: Int64? = nil
    ) {
        self.id = id
        self.device = device
        self.operation = operation
        self.deviceProtocol = deviceProtocol
        self.correlationData = correlationData
        self.requestId = requestId
        self.identity = identity
        self.responseTopic = responseTopic
        self.qos = qos
        self.payload = payload
        self.contentType = contentType
        self.payloadFormatIndicator = payloadFormatIndicator
        self.userProperties = userProperties
        self.state = state
        self.attempts = attempts
        self.receivedAt = receivedAt
        self.updatedAt = receivedAt
        self.deadline = deadline
        self.wakeAt = wakeAt
        self.replyUserProperties = []
    }
}

extension RequestRecord {
    /// A fresh bridge request id: the time in unix milliseconds (12 hex digits), then 128 random
    /// bits (32 hex digits), all lowercase. The random part makes ids unguessable; the time in
    /// front makes new ids sort after old ones, so the store's id index grows at one end
    /// instead of changing a random page for every request.
    package static func newID(now: Int64 = unixMillis()) -> String {
        let random = RandomBits.pair()
        // Written into the string's own storage: no intermediate strings per request.
        return String(unsafeUninitializedCapacity: 44) { buffer in
            func put(_ value: UInt64, digits count: Int, at offset: Int) {
                for index in 0..<count {
                    buffer[offset + index] = hexDigits[Int((value >> UInt64(4 * (count - 1 - index))) & 0xf)]
                }
            }
            put(UInt64(max(0, now)), digits: 12, at: 0)
            put(random.0, digits: 16, at: 12)
            put(random.1, digits: 16, at: 28)
            return 44
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
