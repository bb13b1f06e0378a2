import CourierTesting
import Foundation
@testable import MQTT
import Synchronization
import Testing

/// Every wait on the broker ends: a client works whatever its socket's number, and a task
/// cancelled while it waits for the broker gets `CancellationError` at once.
@Suite(.timeLimit(.minutes(1)))
struct BoundedWaitTests {
    /// libmosquitto's own `select()` loop stops for good on a socket numbered 1024 or above,
    /// which a busy process reaches; a client's publishes then wait forever.
    @Test
    func aClientWhoseSocketIsNumberedAbove1024Works() async throws {
        _ = MQTTEventLoop.raiseOpenFileLimit()
        var fillers: [Int32] = []
        defer { for fd in fillers { close(fd) } }
        while fillers.last.map({ $0 < 1100 }) ?? true {
            let fd = open("/dev/null", O_RDONLY)
            try #require(fd >= 0)
            fillers.append(fd)
        }
        try await withBroker { broker in
            // Tests running alongside free low numbers; each client takes one, until one
            // lands above 1024.
            var clients: [MQTTClient] = []
            var high: MQTTClient?
            while high == nil, clients.count < 200 {
                let client = try await broker.connectedClient("high-fd")
                clients.append(client)
                var socket: Int32 = -1
                client.handle.withSocket { socket = $0 }
                if socket >= 1024 { high = client }
            }
            let client = try #require(high)
            let inbox = MessageInbox.draining(client)
            let topic = uniqueTopic("high-fd")
            try await client.subscribe(topic)
            try await client.publish(topic, payload: Data("ok".utf8))
            #expect(try await inbox.first(on: topic).payload == Data("ok".utf8))
            for client in clients { await client.shutdown() }
        }
    }

    @Test
    func aPublishWaitingForAFrozenBrokerEndsWhenCancelled() async throws {
        try await withBroker { broker in
            let client = try await broker.connectedClient("frozen")
            broker.pause()
            defer { broker.resume() }
            let publish = Task { try await client.publish(uniqueTopic("frozen"), payload: Data("x".utf8)) }
            try await eventually("the publish waits for its PUBACK") { client.handle.acks.waiting == 1 }
            publish.cancel()
            await #expect(throws: CancellationError.self) { try await publish.value }
            broker.resume()
            await client.shutdown()
        }
    }

    @Test
    func aSubscribeAndAConnectWaitingForAFrozenBrokerEndWhenCancelled() async throws {
        try await withBroker { broker in
            let connected = try await broker.connectedClient("frozen-sub")
            broker.pause()
            defer { broker.resume() }
            let subscribe = Task { try await connected.subscribe(uniqueTopic("frozen")) }
            let late = broker.makeClient("frozen-connect")
            let connect = Task { try await late.connect() }
            try await eventually("both wait for the broker") {
                connected.handle.acks.waiting == 1 && late.handle.state.withLock { $0.connectWaiters.count } == 1
            }
            subscribe.cancel()
            connect.cancel()
            await #expect(throws: CancellationError.self) { try await subscribe.value }
            await #expect(throws: CancellationError.self) { try await connect.value }
            broker.resume()
            await connected.shutdown()
            await late.shutdown()
        }
    }

    @Test
    func readingMessagesEndsWhenTheReaderIsCancelled() async throws {
        try await withBroker { broker in
            let client = try await broker.connectedClient("reader")
            let topic = uniqueTopic("reader")
            try await client.subscribe(topic)
            let read = Atomic<Int>(0)
            let reader = Task {
                for await _ in client.messages { read.add(1, ordering: .relaxed) }
            }
            try await client.publish(topic, payload: Data("one".utf8))
            try await eventually("the first message is read") { read.load(ordering: .relaxed) == 1 }
            reader.cancel()  // it now waits for a second message that never comes
            await reader.value
            #expect(read.load(ordering: .relaxed) == 1)
            #expect(client.isConnected)
            await client.shutdown()
        }
    }
}
