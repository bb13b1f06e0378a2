import CourierTesting
import Foundation
@testable import MQTT
import Testing

@Suite(.timeLimit(.minutes(2)))
struct DeliveryTests {
    @Test
    func tenThousandPublishesInFlightAllCompleteAndArrive() async throws {
        try await withBroker { broker in
            let subscriber = try await broker.connectedClient("sub") { $0.inboundCapacity = 20_000 }
            let publisher = try await broker.connectedClient("pub")
            let inbox = MessageInbox.draining(subscriber)
            let topic = uniqueTopic("flood")
            try await subscriber.subscribe(topic)

            let count = 10_000
            let acks = try await withThrowingTaskGroup(of: PublishAck.self) { group in
                for index in 0..<count {
                    group.addTask { try await publisher.publish(topic, payload: Data("\(index)".utf8)) }
                }
                return try await group.reduce(into: [PublishAck]()) { $0.append($1) }
            }
            #expect(acks.count == count)
            #expect(acks.allSatisfy { $0.isDelivered })
            let received = try await inbox.wait(for: count, within: .seconds(60)) { $0.topic == topic }
            #expect(Set(received.map { String(decoding: $0.payload, as: UTF8.self) }).count == count)
            #expect(subscriber.droppedMessages == 0)
            #expect(publisher.handle.acks.waiting == 0)
            await publisher.shutdown()
            await subscriber.shutdown()
        }
    }

    @Test
    func pubackReasonNoMatchingSubscribersIsNotDelivered() async throws {
        try await withBroker { broker in
            let publisher = try await broker.connectedClient("pub")
            let ack = try await publisher.publish(uniqueTopic("nobody"), payload: Data("x".utf8))
            #expect(ack.reasonCode == PublishAck.noMatchingSubscribers)
            #expect(!ack.isDelivered)
            await publisher.shutdown()
        }
    }

    @Test
    func tcpNoDelayIsSetOnTheConnection() async throws {
        try await withBroker { broker in
            let client = try await broker.connectedClient("nodelay")
            #expect(client.tcpOptionForTesting(TCP_NODELAY) == 1)
            await client.shutdown()
        }
    }

    @Test
    func anAcknowledgementArrivingBeforeItsWaiterIsHandedOver() async throws {
        let table = AckTable()
        table.acknowledge(42, code: 16)
        let code = try await withCheckedThrowingContinuation { continuation in
            table.register(42, kind: .publishQoS1, epoch: table.epoch) { continuation.resume(with: $0) }
        }
        #expect(code == 16)
        #expect(table.waiting == 0)
    }

    @Test
    func aQoS0WriteThatRacedADisconnectFailsInsteadOfHanging() async throws {
        let table = AckTable()
        let epoch = table.epoch
        table.failLostOnDisconnect()
        await #expect(throws: MQTTError.notConnected) {
            _ = try await withCheckedThrowingContinuation { continuation in
                table.register(7, kind: .publishQoS0, epoch: epoch) { continuation.resume(with: $0) }
            }
        }
    }

    @Test
    func qos1PublishWhileDisconnectedIsQueuedAndSentExactlyOnce() async throws {
        try await withBroker(persistence: true) { broker in
            let topic = uniqueTopic("queued")
            // A durable subscriber: the broker keeps its subscription across the restart.
            let subscriber = try await broker.connectedClient("sub") {
                $0.cleanStart = false
                $0.sessionExpiry = 300
            }
            let inbox = MessageInbox.draining(subscriber)
            try await subscriber.subscribe(topic)
            let publisher = try await broker.connectedClient("pub")

            await broker.stop()
            try await eventuallyDisconnected(publisher)
            // libmosquitto answers MOSQ_ERR_NO_CONN but keeps the QoS 1 message queued.
            let pending = Task { try await publisher.publish(topic, payload: Data("once".utf8)) }
            try await broker.restart()
            let ack = try await withTimeout(.seconds(20), "queued publish") { try await pending.value }
            #expect(ack.reasonCode == 0)
            try await publisher.publish(topic, payload: Data("sentinel".utf8))
            let received = try await inbox.wait(for: 2, within: .seconds(20)) { $0.topic == topic }
            // Per-topic order is kept, so a second copy would arrive before the sentinel.
            #expect(received.map { String(decoding: $0.payload, as: UTF8.self) } == ["once", "sentinel"])
            await publisher.shutdown()
            await subscriber.shutdown()
        }
    }

    @Test
    func qos0PublishWithoutAConnectionFailsClearly() async throws {
        try await withBroker { broker in
            let publisher = try await broker.connectedClient("pub")
            await broker.stop()
            try await eventuallyDisconnected(publisher)
            await #expect(throws: MQTTError.notConnected) {
                try await publisher.publish("t", payload: Data(), qos: .atMostOnce)
            }
            await publisher.shutdown()
        }
    }

    @Test
    func shutdownFailsEveryWaiter() async throws {
        try await withBroker { broker in
            let publisher = try await broker.connectedClient("pub")
            await broker.stop()
            try await eventuallyDisconnected(publisher)
            let pending = Task { try await publisher.publish("t", payload: Data("x".utf8)) }
            try await eventually("publish waiting") { publisher.handle.acks.waiting == 1 }
            await publisher.shutdown()
            await #expect(throws: MQTTError.shutdown) { try await pending.value }
            await #expect(throws: MQTTError.shutdown) { try await publisher.publish("t", payload: Data()) }
        }
    }
}

func eventuallyDisconnected(_ client: MQTTClient) async throws {
    try await eventually("client notices the broker is gone") { !client.isConnected }
}
