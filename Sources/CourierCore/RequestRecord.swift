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
///
/// A value whose fields live in a box that copies share until one of them changes a field: the
/// engine and the store pass each request along many times, and a copy is then one reference
/// count instead of one for every string and byte field.
package struct RequestRecord: Sendable, Equatable, Codable {
    /// The bridge's own id (``newID(now:)``): a time prefix and 128 random bits, hex. Workers echo
    /// it; devices never see it.
    @inlinable package var id: String {
        get { box.fields.id }
        set { makeUnique(); box.fields.id = newValue }
    }

    @inlinable package var device: String {
        get { box.fields.device }
        set { makeUnique(); box.fields.device = newValue }
    }

    @inlinable package var operation: String {
        get { box.fields.operation }
        set { makeUnique(); box.fields.operation = newValue }
    }

    @inlinable package var deviceProtocol: DeviceProtocol {
        get { box.fields.deviceProtocol }
        set { makeUnique(); box.fields.deviceProtocol = newValue }
    }

    /// MQTT 5 correlation data, echoed byte for byte.
    @inlinable package var correlationData: Data? {
        get { box.fields.correlationData }
        set { makeUnique(); box.fields.correlationData = newValue }
    }

    /// MQTT 3.1.1 request id, or the HTTP idempotency key.
    @inlinable package var requestId: String? {
        get { box.fields.requestId }
        set { makeUnique(); box.fields.requestId = newValue }
    }

    /// Key for duplicate suppression; nil when the request has no identity.
    @inlinable package var identity: String? {
        get { box.fields.identity }
        set { makeUnique(); box.fields.identity = newValue }
    }

    /// Where the reply goes; nil when nobody is listening for one.
    @inlinable package var responseTopic: String? {
        get { box.fields.responseTopic }
        set { makeUnique(); box.fields.responseTopic = newValue }
    }

    @inlinable package var qos: Int {
        get { box.fields.qos }
        set { makeUnique(); box.fields.qos = newValue }
    }

    @inlinable package var payload: Data {
        get { box.fields.payload }
        set { makeUnique(); box.fields.payload = newValue }
    }

    @inlinable package var contentType: String? {
        get { box.fields.contentType }
        set { makeUnique(); box.fields.contentType = newValue }
    }

    @inlinable package var payloadFormatIndicator: Int? {
        get { box.fields.payloadFormatIndicator }
        set { makeUnique(); box.fields.payloadFormatIndicator = newValue }
    }

    @inlinable package var userProperties: [UserProperty] {
        get { box.fields.userProperties }
        set { makeUnique(); box.fields.userProperties = newValue }
    }

    @inlinable package var state: RequestState {
        get { box.fields.state }
        set { makeUnique(); box.fields.state = newValue }
    }

    @inlinable package var attempts: Int {
        get { box.fields.attempts }
        set { makeUnique(); box.fields.attempts = newValue }
    }

    /// Unix milliseconds.
    @inlinable package var receivedAt: Int64 {
        get { box.fields.receivedAt }
        set { makeUnique(); box.fields.receivedAt = newValue }
    }

    @inlinable package var updatedAt: Int64 {
        get { box.fields.updatedAt }
        set { makeUnique(); box.fields.updatedAt = newValue }
    }

    @inlinable package var deadline: Int64 {
        get { box.fields.deadline }
        set { makeUnique(); box.fields.deadline = newValue }
    }

    /// When the bridge must look at the request again (attempt timeout, retry, deadline); nil
    /// when no timer is due.
    @inlinable package var wakeAt: Int64? {
        get { box.fields.wakeAt }
        set { makeUnique(); box.fields.wakeAt = newValue }
    }

    @inlinable package var replyStatus: Int? {
        get { box.fields.replyStatus }
        set { makeUnique(); box.fields.replyStatus = newValue }
    }

    @inlinable package var replyCode: String? {
        get { box.fields.replyCode }
        set { makeUnique(); box.fields.replyCode = newValue }
    }

    @inlinable package var replyPayload: Data? {
        get { box.fields.replyPayload }
        set { makeUnique(); box.fields.replyPayload = newValue }
    }

    @inlinable package var replyContentType: String? {
        get { box.fields.replyContentType }
        set { makeUnique(); box.fields.replyContentType = newValue }
    }

    @inlinable package var replyUserProperties: [UserProperty] {
        get { box.fields.replyUserProperties }
        set { makeUnique(); box.fields.replyUserProperties = newValue }
    }

    /// Set once the broker acknowledged the final reply (or nothing had to be published).
    @inlinable package var deliveredAt: Int64? {
        get { box.fields.deliveredAt }
        set { makeUnique(); box.fields.deliveredAt = newValue }
    }

    /// Why a dead letter is one (`forbidden_response_topic`, `worker_error`, ...).
    @inlinable package var reason: String? {
        get { box.fields.reason }
        set { makeUnique(); box.fields.reason = newValue }
    }

    /// A device's request, or a command to a device.
    @inlinable package var kind: RequestKind {
        get { box.fields.kind }
        set { makeUnique(); box.fields.kind = newValue }
    }

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
        box = Box(Fields(
            id: id,
            device: device,
            operation: operation,
            deviceProtocol: deviceProtocol,
            correlationData: correlationData,
            requestId: requestId,
            identity: identity,
            responseTopic: responseTopic,
            qos: qos,
            payload: payload,
            contentType: contentType,
            payloadFormatIndicator: payloadFormatIndicator,
            userProperties: userProperties,
            state: state,
            attempts: attempts,
            receivedAt: receivedAt,
            updatedAt: receivedAt,
            deadline: deadline,
            wakeAt: wakeAt,
            replyUserProperties: []
        ))
    }

    package static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.box === rhs.box || lhs.box.fields == rhs.box.fields
    }

    package init(from decoder: any Decoder) throws {
        box = Box(try Fields(from: decoder))
    }

    package func encode(to encoder: any Encoder) throws {
        try box.fields.encode(to: encoder)
    }

    // MARK: Storage

    @usableFromInline var box: Box

    /// Copies the fields before a change when another record shares them.
    @inlinable mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&box) { box = Box(box.fields) }
    }

    @usableFromInline
    struct Fields: Sendable, Equatable, Codable {
        @usableFromInline var id: String
        @usableFromInline var device: String
        @usableFromInline var operation: String
        @usableFromInline var deviceProtocol: DeviceProtocol
        @usableFromInline var correlationData: Data?
        @usableFromInline var requestId: String?
        @usableFromInline var identity: String?
        @usableFromInline var responseTopic: String?
        @usableFromInline var qos: Int
        @usableFromInline var payload: Data
        @usableFromInline var contentType: String?
        @usableFromInline var payloadFormatIndicator: Int?
        @usableFromInline var userProperties: [UserProperty]
        @usableFromInline var state: RequestState
        @usableFromInline var attempts: Int
        @usableFromInline var receivedAt: Int64
        @usableFromInline var updatedAt: Int64
        @usableFromInline var deadline: Int64
        @usableFromInline var wakeAt: Int64?
        @usableFromInline var replyStatus: Int?
        @usableFromInline var replyCode: String?
        @usableFromInline var replyPayload: Data?
        @usableFromInline var replyContentType: String?
        @usableFromInline var replyUserProperties: [UserProperty]
        @usableFromInline var deliveredAt: Int64?
        @usableFromInline var reason: String?
        @usableFromInline var kind: RequestKind = .request
    }

    /// `@unchecked Sendable`: a box is changed only while one record holds it (``makeUnique()``).
    @usableFromInline
    final class Box: @unchecked Sendable {
        /// Unchecked: only the one record that holds the box changes it, through its own
        /// `mutating` accessors, which the compiler checks; a run-time check on every read of
        /// every field would cost what sharing saves.
        @usableFromInline @exclusivity(unchecked) var fields: Fields

        @usableFromInline init(_ fields: Fields) { self.fields = fields }
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
