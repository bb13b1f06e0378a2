/// Errors of ``MQTTClient``.
public enum MQTTError: Error, Equatable, CustomStringConvertible {
    /// The configuration cannot work (bad URL, TLS files missing, ...).
    case invalidConfiguration(String)
    /// The broker refused the connection (bad credentials, not authorised, ...). libmosquitto
    /// stops for good after this; the client does not retry.
    case connectionRefused(reasonCode: Int, reason: String)
    /// Not connected and the operation cannot be queued (QoS 0 publish, subscribe).
    case notConnected
    /// The client was shut down; every waiter is failed with this.
    case shutdown
    /// The broker refused a subscription.
    case subscriptionRefused(filter: String, reasonCode: Int)
    /// libmosquitto returned an error code.
    case library(code: Int, message: String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let message): "invalid MQTT configuration: \(message)"
        case .connectionRefused(let code, let reason): "broker refused the connection: \(reason) (reason \(code))"
        case .notConnected: "not connected to the broker"
        case .shutdown: "the MQTT client was shut down"
        case .subscriptionRefused(let filter, let code): "broker refused the subscription to \(filter) (reason \(code))"
        case .library(let code, let message): "libmosquitto error \(code): \(message)"
        }
    }
}
