import CourierCore
import Foundation

/// A backend's command for a device, as it arrived: over HTTP
/// (`POST /v1/devices/{device}/commands/{command}`) or over MQTT 5
/// (`courier/commands/{device}/{command}`, with a Response Topic for the device's answer).
package struct CommandSubmission: Sendable, Equatable {
    package var device: String
    package var command: String
    package var payload: Data
    package var contentType: String?
    /// How the device talks: MQTT 5 (the command id as Correlation Data) or 3.1.1 (the command
    /// id as a topic level).
    package var deviceProtocol: DeviceProtocol
    /// The HTTP `Idempotency-Key`.
    package var idempotencyKey: String?
    /// Over MQTT: where the device's answer (and progress) goes, with `correlationData`.
    package var responseTopic: String?
    package var correlationData: Data?
    /// Over MQTT: the submission's Message Expiry Interval, seconds.
    package var messageExpiry: UInt32?

    package init(
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
    package var viaMQTT: Bool { responseTopic != nil }
}
