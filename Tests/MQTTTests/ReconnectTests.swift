import CourierTesting
import Foundation
@testable import MQTT
import Testing

@Suite(.timeLimit(.minutes(1)))
struct ReconnectTests {
    @Test
    func afterABrokerRestartClientsReconnectResubscribeAndTrafficResumes() async throws {
        try await withBroker { broker in
            let subscriber = try await broker.connectedClient("sub")
            let publisher = try await broker.connectedClient("pub")
            let inbox = MessageInbox.draining(subscriber)
            let topic = uniqueTopic("restart")
            let shared = "$share/group/\(topic)/shared"
            try await subscriber.subscribe(topic)
            try await subscriber.subscribe(shared)
            try await publisher.publish(topic, payload: Data("before".utf8))
            try await inbox.wait { $0.topic == topic }

            // No persistence: the broker forgets every subscription, so traffic after the
            // restart proves the client subscribed again by itself.
            await broker.kill()
            try await eventuallyDisconnected(subscriber)
            try await broker.restart()
            try await eventually("both reconnect") { subscriber.isConnected && publisher.isConnected }
            try await eventually("re-subscribed", within: .seconds(10)) {
                try await publisher.publish(topic, payload: Data("after".utf8)).isDelivered
            }
            try await inbox.wait { String(decoding: $0.payload, as: UTF8.self) == "after" }
            let ack = try await publisher.publish("\(topic)/shared", payload: Data("to the group".utf8))
            #expect(ack.isDelivered)
            try await inbox.wait { $0.topic == "\(topic)/shared" }
            await publisher.shutdown()
            await subscriber.shutdown()
        }
    }

    @Test
    func connectWaitsForABrokerThatIsNotUpYet() async throws {
        let port = try FreePort.allocate()
        var configuration = MQTTConfiguration(host: "127.0.0.1", port: port, clientID: MQTTConfiguration.uniqueClientID(prefix: "early"))
        configuration.reconnectDelay = 1...1
        let client = MQTTClient(configuration: configuration, logger: .test("early"))
        let connecting = Task { try await client.connect() }
        // A broker on that port, started after the client began trying.
        let broker = try await MosquittoBroker.start(port: port)
        try await withTimeout(.seconds(15), "connect after the broker came up") { try await connecting.value }
        #expect(client.isConnected)
        await client.shutdown()
        await broker.stopAndRemove()
    }

    @Test
    func aWillIsPublishedWhenTheConnectionDies() async throws {
        try await withBroker { broker in
            let topic = uniqueTopic("will")
            let watcher = try await broker.connectedClient("watcher")
            let inbox = MessageInbox.draining(watcher)
            try await watcher.subscribe(topic)
            let mortal = try await broker.connectedClient("mortal") {
                $0.will = .init(topic: topic, payload: Data("gone".utf8), properties: .init(contentType: "text/plain"))
            }
            mortal.breakConnectionForTesting()
            let will = try await inbox.first(on: topic)
            #expect(will.payload == Data("gone".utf8))
            #expect(will.properties.contentType == "text/plain")
            await mortal.shutdown()
            await watcher.shutdown()
        }
    }
}
