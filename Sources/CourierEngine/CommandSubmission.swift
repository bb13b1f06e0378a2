import CourierCore
import Foundation

/// A backend's command for a device, as it arrived: over HTTP
/// (`POST /v1/devices/{device}/commands/{command}`) or over MQTT 5
/// (`courier/commands/{device}/{command}`, with a Response Topic for the device's answer).
public struct CommandSubmission: Sendable, Equatable {
    public var device: String
    public var command: String
    public var payload: Data
    public var contentType: String?
    /// How the device talks: MQTT 5 (the command id as Correlation Data) or 3.1.1 (the command
    /// id as a topic level).
    public var deviceProtocol: DeviceProtocol
    /// The HTTP `Idempotency-Key`.
    public var idempotencyKey: String?
    /// Over MQTT: where the device's answer (and progress) goes, with `correlationData`.
    public var responseTopic: String?
    public var correlationData: Data?
    /// Over MQTT: the submission's Message Expiry Interval, seconds.
    public var messageExpiry: UInt32?

    public init(
        device: String, command: String, payload: Data, contentType: String?, deviceProtocol: DeviceProtocol = .mqtt5,
        idempotencyKey: String? = nil, responseTopic: String? = nil, correlationData: Data? = nil, messageExpiry: UInt32? = nil
    ) {
        self.device = device
        self.command = command
        self.payload = payload
        self.contentType = contentType
        self.deviceProtocol = deviceProtocol
        self.idempotencyKey = idempotencyKey
        self.responseTopic = responseTopic
        self.correlationData = correlationData
        self.messageExpiry = messageExpiry
    }

    /// Submitted over MQTT: answered on its Response Topic rather than to an HTTP caller.
    public var viaMQTT: Bool { responseTopic != nil }
}
