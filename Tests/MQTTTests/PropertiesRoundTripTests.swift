import CourierTesting
import Foundation
import MQTT
import Testing

@Suite(.timeLimit(.minutes(1)))
struct PropertiesRoundTripTests {
    @Test(arguments: [MQTTQoS.atMostOnce, .atLeastOnce])
    func everyPublishPropertyArrivesIntact(qos: MQTTQoS) async throws {
        try await withBroker { broker in
            let subscriber = try await broker.connectedClient("sub")
            let publisher = try await broker.connectedClient("pub")
            let inbox = MessageInbox.draining(subscriber)
            let topic = uniqueTopic("props")
            try await subscriber.subscribe(topic, qos: .atLeastOnce)

            let properties = MQTTProperties(
                responseTopic: "devices/d1/replies/x",
                correlationData: Data([0, 1, 2, 0xFF, 0x80, 0]),
                messageExpiry: 120,
                contentType: "application/json",
                payloadFormatIndicator: 1,
                userProperties: [.init("traceparent", "00-abc-def-01"), .init("k", "v1"), .init("k", "v2")]
            )
            let payload = Data("{\"x\":1}".utf8)
            let ack = try await publisher.publish(topic, payload: payload, qos: qos, properties: properties)
            #expect(ack.isDelivered)

            let message = try await inbox.first(on: topic)
            #expect(message.payload == payload)
            #expect(message.qos == qos)
            #expect(message.properties.responseTopic == properties.responseTopic)
            #expect(message.properties.correlationData == properties.correlationData)
            #expect(message.properties.contentType == properties.contentType)
            #expect(message.properties.payloadFormatIndicator == 1)
            #expect(message.properties.userProperties == properties.userProperties)
            // The broker counts the expiry down; it can only have shrunk.
            #expect((1...120).contains(message.properties.messageExpiry ?? 0))

            await publisher.shutdown()
            await subscriber.shutdown()
        }
    }

    /// libmosquitto 2.0.11 crashes copying an empty string property (strdup(NULL)); such
    /// properties are left out instead, and the rest arrives.
    @Test
    func emptyStringPropertiesAreLeftOutInsteadOfCrashing() async throws {
        try await withBroker { broker in
            let subscriber = try await broker.connectedClient("sub")
            let publisher = try await broker.connectedClient("pub")
            let inbox = MessageInbox.draining(subscriber)
            let topic = uniqueTopic("empty")
            try await subscriber.subscribe(topic)
            let properties = MQTTProperties(
                responseTopic: "",
                correlationData: Data(),
                contentType: "",
                userProperties: [.init("k", ""), .init("", "v"), .init("", ""), .init("kept", "yes")]
            )
            try await publisher.publish(topic, payload: Data("x".utf8), properties: properties)
            let message = try await inbox.first(on: topic)
            #expect(message.properties.responseTopic == nil)
            #expect(message.properties.contentType == nil)
            #expect(message.properties.correlationData == Data())
            #expect(message.properties.userProperties == [.init("kept", "yes")])
            await publisher.shutdown()
            await subscriber.shutdown()
        }
    }

    /// mosquitto disconnects a client that sends a control character in a user property value,
    /// which libmosquitto does not check; the message was then sent again after every reconnect.
    @Test
    func aControlCharacterInAUserPropertyIsLeftOutAndTheClientStaysConnected() async throws {
        try await withBroker { broker in
            let subscriber = try await broker.connectedClient("sub")
            let publisher = try await broker.connectedClient("pub")
            let inbox = MessageInbox.draining(subscriber)
            let topic = uniqueTopic("control")
            try await subscriber.subscribe(topic)
            let properties = MQTTProperties(userProperties: [.init("k", "line\nbreak"), .init("kept", "yes")])
            try await publisher.publish(topic, payload: Data("x".utf8), properties: properties)
            let message = try await inbox.first(on: topic)
            #expect(message.properties.userProperties == [.init("kept", "yes")])
            try await publisher.publish(topic, payload: Data("y".utf8))
            _ = try await inbox.wait(for: 2) { $0.topic == topic }
            #expect(publisher.isConnected)
            await publisher.shutdown()
            await subscriber.shutdown()
        }
    }

    @Test
    func sendablePropertiesDropOnlyEmptyStrings() {
        let properties = MQTTProperties(
            responseTopic: "r", contentType: "", userProperties: [.init("a", "1"), .init("b", ""), .init("", "c")]
        )
        #expect(properties.sendable == MQTTProperties(responseTopic: "r", userProperties: [.init("a", "1")]))
        #expect(MQTTProperties(contentType: "t").sendable == MQTTProperties(contentType: "t"))
        let nul = MQTTProperties(responseTopic: "\u{0}r", contentType: "a\u{0}", userProperties: [.init("\u{0}", "v"), .init("k", "v")])
        #expect(nul.sendable == MQTTProperties(userProperties: [.init("k", "v")]))
        // What the broker would disconnect the sender for, and what libmosquitto would cut.
        let unfit = MQTTProperties(
            contentType: String(repeating: "t", count: 65_536),
            userProperties: [.init("k", "line\nbreak"), .init("k", "tab\t"), .init("k", String(Character(Unicode.Scalar(0xFDD0)!))), .init("k", "\u{7F}"),
                             .init("k", String(repeating: "v", count: 70_000)), .init("k", "fine é ✓")]
        )
        #expect(unfit.sendable == MQTTProperties(userProperties: [.init("k", "fine é ✓")]))
    }

    @Test
    func emptyPayloadAndRetainedFlag() async throws {
        try await withBroker { broker in
            let publisher = try await broker.connectedClient("pub")
            let topic = uniqueTopic("retained")
            try await publisher.publish(topic, payload: Data("kept".utf8), retain: true)
            let subscriber = try await broker.connectedClient("sub")
            let inbox = MessageInbox.draining(subscriber)
            try await subscriber.subscribe(topic)
            let message = try await inbox.first(on: topic)
            #expect(message.retain)
            #expect(message.payload == Data("kept".utf8))

            try await publisher.publish(topic, payload: Data(), retain: true)
            await publisher.shutdown()
            await subscriber.shutdown()
        }
    }

    @Test
    func mqtt311ClientsExchangeMessagesWithoutProperties() async throws {
        try await withBroker { broker in
            let subscriber = try await broker.connectedClient("sub311", protocolVersion: .v311)
            let publisher = try await broker.connectedClient("pub311", protocolVersion: .v311)
            let inbox = MessageInbox.draining(subscriber)
            let topic = uniqueTopic("v311")
            try await subscriber.subscribe(topic)
            // Properties are dropped on a 3.1.1 connection rather than failing the publish.
            let ack = try await publisher.publish(topic, payload: Data("hi".utf8), properties: .init(contentType: "text/plain"))
            #expect(ack.reasonCode == 0)
            let message = try await inbox.first(on: topic)
            #expect(message.payload == Data("hi".utf8))
            #expect(message.properties == MQTTProperties())
            await publisher.shutdown()
            await subscriber.shutdown()
        }
    }
}
