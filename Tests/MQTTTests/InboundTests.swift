import CourierTesting
import Foundation
@testable import MQTT
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1)))
struct InboundTests {
    @Test
    func aFullBufferHoldsTheNetworkThreadInsteadOfDropping() async throws {
        try await withBroker { broker in
            let topic = uniqueTopic("backpressure")
            // Long enough that even a loaded machine publishing the backlog never drops one.
            let subscriber = try await broker.connectedClient("slow") {
                $0.inboundCapacity = 8
                $0.inboundOverflowWait = .seconds(300)
            }
            try await subscriber.subscribe(topic)
            let publisher = try await broker.connectedClient("pub")
            // All at once, not one PUBACK at a time: on a loaded machine 300 round trips can
            // outlast the subscriber's keep-alive while its network thread waits.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<300 {
                    group.addTask { try await publisher.publish(topic, payload: Data("\(index)".utf8)) }
                }
                try await group.waitForAll()
            }
            // Only now does anyone read: the network thread has been waiting for room.
            var received: [String] = []
            for await message in subscriber.messages {
                received.append(String(decoding: message.payload, as: UTF8.self))
                if received.count == 300 { break }
            }
            // Every message arrives; mosquitto may reorder a backlog it had to queue.
            #expect(received.sorted() == (0..<300).map(String.init).sorted())
            #expect(subscriber.droppedMessages == 0)
            await publisher.shutdown()
            await subscriber.shutdown()
        }
    }

    @Test
    func aReaderThatNeverComesBackCannotWedgeTheConnection() async throws {
        try await withBroker { broker in
            let topic = uniqueTopic("overflow")
            let subscriber = try await broker.connectedClient("stuck") {
                $0.inboundCapacity = 2
                $0.inboundOverflowWait = .milliseconds(10)
            }
            try await subscriber.subscribe(topic)
            let publisher = try await broker.connectedClient("pub")
            for index in 0..<20 { try await publisher.publish(topic, payload: Data("\(index)".utf8)) }
            try await eventually("overflow counted") { subscriber.droppedMessages == 18 }
            #expect(subscriber.isConnected)
            await publisher.shutdown()
            await subscriber.shutdown()
        }
    }

    /// The hook runs before the PUBACK is written: if the connection dies while the hook is
    /// still working, the broker never got the PUBACK and delivers the message again.
    @Test
    func theMessageHookRunsBeforeThePubackLeaves() async throws {
        try await withBroker { broker in
            let topic = uniqueTopic("hook")
            let deliveries = MessageInbox()
            let insideHook = DispatchSemaphore(value: 0)
            let releaseHook = DispatchSemaphore(value: 0)
            let first = Atomic<Bool>(true)
            let consumer = try await broker.connectedClient(
                "durable",
                configure: {
                    $0.cleanStart = false
                    $0.sessionExpiry = 300
                },
                onMessage: { message in
                    deliveries.append(message)
                    if first.exchange(false, ordering: .relaxed) {
                        insideHook.signal()
                        releaseHook.wait()  // a slow store write, on the network thread
                    }
                }
            )
            try await consumer.subscribe(topic)
            let publisher = try await broker.connectedClient("pub")
            try await publisher.publish(topic, payload: Data("persist me".utf8))
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    insideHook.wait()
                    continuation.resume()
                }
            }
            consumer.breakConnectionForTesting()
            releaseHook.signal()
            let copies = try await deliveries.wait(for: 2, within: .seconds(15)) { $0.topic == topic }
            #expect(copies.allSatisfy { $0.payload == Data("persist me".utf8) })
            await publisher.shutdown()
            await consumer.shutdown()
        }
    }
}
