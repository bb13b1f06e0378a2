import CourierTesting
import Foundation
import MQTT

/// A device played by the test: an MQTT 5 client asking on `devices/{id}/requests/{op}` with a
/// Response Topic in its own reply namespace.
struct Device: Sendable {
    let id: String
    let client: MQTTClient
    let replies: MessageInbox

    /// - Parameter persistent: a durable session (clean start off, one hour's session
    ///   expiry), so replies published while the device is away wait for it at the broker.
    static func connect(_ id: String, to broker: MosquittoBroker, persistent: Bool = false) async throws -> Device {
        let client = try await broker.connectedClient(id) {
            $0.inboundCapacity = 10_000
            if persistent {
                $0.clientID = "device-\(id)"
                $0.cleanStart = false
                $0.sessionExpiry = 3600
            }
        }
        let replies = MessageInbox.draining(client)
        try await client.subscribe("devices/\(id)/replies/#")
        return Device(id: id, client: client, replies: replies)
    }

    var replyTopic: String { "devices/\(id)/replies/rpc" }

    @discardableResult
    func ask(_ operation: String, _ payload: Data, correlation: String?, responseTopic: String? = nil, properties: [UserProperty] = [], expiry: UInt32? = nil) async throws -> PublishAck {
        try await client.publish(
            "devices/\(id)/requests/\(operation)",
            payload: payload,
            properties: .init(
                responseTopic: responseTopic ?? replyTopic,
                correlationData: correlation.map { Data($0.utf8) },
                messageExpiry: expiry,
                contentType: "application/octet-stream",
                userProperties: properties
            )
        )
    }

    /// Waits for `count` replies carrying this correlation data.
    @discardableResult
    func replies(to correlation: String, count: Int = 1, within limit: Duration = .seconds(15)) async throws -> [MQTTMessage] {
        let data = Data(correlation.utf8)
        return try await replies.wait(for: count, within: limit) { $0.properties.correlationData == data }
    }

    func reply(to correlation: String, within limit: Duration = .seconds(15)) async throws -> MQTTMessage {
        try await replies(to: correlation, within: limit).last!
    }

    /// Waits for the final reply (not a 202 or a 102 progress) carrying this correlation data.
    func finalReply(to correlation: String, within limit: Duration = .seconds(15)) async throws -> MQTTMessage {
        let data = Data(correlation.utf8)
        return try await replies.wait(for: 1, within: limit) { $0.properties.correlationData == data && ![102, 202].contains($0.status) }[0]
    }

    func shutdown() async { await client.shutdown() }
}

extension MQTTMessage {
    var status: Int? { properties.userProperty("status").flatMap(Int.init) }
    var errorCode: String? { properties.userProperty("error") }
    var text: String { String(decoding: payload, as: UTF8.self) }
}
