import Foundation

/// The MQTT protocol level a client speaks.
public enum MQTTProtocolVersion: Sendable {
    case v5
    case v311
}

/// How an ``MQTTClient`` connects: where, as whom, with which session.
public struct MQTTConfiguration: Sendable {
    /// Certificates for `mqtts://`: the CA that signs the broker, and optionally a client
    /// certificate and key.
    public struct TLS: Sendable, Equatable {
        public var caFile: String
        public var certFile: String?
        public var keyFile: String?

        public init(caFile: String, certFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
        }
    }

    /// The message the broker publishes when this client disappears without a DISCONNECT.
    public struct Will: Sendable {
        public var topic: String
        public var payload: Data
        public var qos: MQTTQoS
        public var retain: Bool
        public var properties: MQTTProperties

        public init(topic: String, payload: Data, qos: MQTTQoS = .atLeastOnce, retain: Bool = false, properties: MQTTProperties = .init()) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
            self.properties = properties
        }
    }

    public var host: String
    public var port: Int
    /// Set by an `mqtts://` URL; requires ``tls``.
    public var usesTLS: Bool
    public var clientID: String
    public var protocolVersion: MQTTProtocolVersion = .v5
    /// Clean start off and a session expiry above zero make a durable session: the broker
    /// keeps subscriptions and queued QoS 1 messages while the client is away.
    public var cleanStart: Bool = true
    /// Seconds the broker keeps the session after a disconnect (MQTT 5).
    public var sessionExpiry: UInt32 = 0
    /// How many QoS 1 messages the broker may have in flight to this client (MQTT 5).
    public var receiveMaximum: UInt16 = 1024
    public var keepAlive: Int = 30
    public var username: String?
    public var password: String?
    public var tls: TLS?
    public var will: Will?
    /// Bounds of the exponential reconnect backoff, in seconds.
    public var reconnectDelay: ClosedRange<UInt32> = 1...10
    /// Messages buffered for ``MQTTClient/messages`` before the network thread waits.
    public var inboundCapacity: Int = 4096
    /// How long the network thread waits for room in a full inbound buffer before it drops a
    /// message (and counts it). Waiting is the backpressure: the broker's sends stall meanwhile.
    public var inboundOverflowWait: Duration = .seconds(2)
    /// The loop that drives this client: nil (the default) gives it a loop of its own, one
    /// thread; an ``MQTTEventLoop`` shares one thread among many clients. On a shared loop,
    /// callbacks and hooks run on that loop's thread, so a full ``MQTTClient/messages`` buffer
    /// waiting for room (``inboundOverflowWait``) stalls every client on it: give such clients
    /// an `onMessage` hook, or a short wait.
    public var eventLoop: MQTTEventLoop?

    public init(host: String, port: Int, clientID: String, usesTLS: Bool = false) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.usesTLS = usesTLS
    }

    /// A configuration for `mqtt://host[:port]` (default port 1883) or `mqtts://host[:port]`
    /// (default 8883).
    public init(url: String, clientID: String) throws(MQTTError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else {
            throw .invalidConfiguration("broker URL \"\(url)\" is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
        }
        switch scheme {
        case "mqtt": self.init(host: host, port: components.port ?? 1883, clientID: clientID)
        case "mqtts": self.init(host: host, port: components.port ?? 8883, clientID: clientID, usesTLS: true)
        default: throw .invalidConfiguration("broker URL scheme \"\(scheme)\" is not mqtt or mqtts")
        }
    }

    /// A client id unique to this process and call: `prefix-<pid>-<random>`.
    public static func uniqueClientID(prefix: String) -> String {
        "\(prefix)-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
    }
}
