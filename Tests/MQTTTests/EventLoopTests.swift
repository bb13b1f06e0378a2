import CourierTestTraits
import CourierTesting
import Foundation
import Logging
@testable import MQTT
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(2)))
struct EventLoopTests {
    /// Runs in a process of its own (an exit test): 600 descriptors in the shared test process
    /// could push other suites' sockets above 1023, where libmosquitto's threaded loop fails.
    /// On threads of its own: the exit test blocks the thread that reads the child's output.
    @Test(.ownThreads)
    func twoHundredClientsOnOneLoopEachCompleteARoundTrip() async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            try await withBroker { broker in
                let threadsBefore = EventLoopTests.threadCount()
                let descriptorsBefore = EventLoopTests.openDescriptorCount()
                try await Fleet.with(broker, clients: 200) { fleet in
                    // 200 clients and the responder.
                    guard fleet.loop.clientCount == 201 else { throw FixtureError.commandFailed("\(fleet.loop.clientCount) clients on the loop") }
                    // One descriptor each once libmosquitto's wake-up pairs are closed (three
                    // with them), plus the loop's epoll and eventfd.
                    try await eventually("wake-up pairs closed") { EventLoopTests.openDescriptorCount() - descriptorsBefore <= 201 + 8 }
                    try await fleet.roundTrips()
                    // One loop thread (and a few connector threads), not one thread per client.
                    let added = EventLoopTests.threadCount() - threadsBefore
                    guard added < 50 else { throw FixtureError.commandFailed("\(added) threads for 200 clients") }
                }
            }
        }
        if let result, result.exitStatus != .exitCode(0) {
            Issue.record("\(String(decoding: result.standardErrorContent, as: UTF8.self))")
        }
    }

    @Test
    func aBrokerRestartReconnectsEveryClientOnTheLoop() async throws {
        try await withBroker { broker in
            try await Fleet.with(broker, clients: 40) { fleet in
                try await fleet.roundTrips()
                // No persistence: subscriptions are forgotten, so replies after the restart prove
                // every client reconnected and subscribed again by itself.
                await broker.kill()
                try await eventually("all see the drop") { fleet.clients.allSatisfy { !$0.isConnected } }
                try await broker.restart()
                do {
                    try await eventually("all reconnect", within: .seconds(20)) {
                        fleet.clients.allSatisfy(\.isConnected) && fleet.responder.isConnected
                    }
                } catch {
                    let connected = fleet.clients.filter(\.isConnected).count
                    Issue.record("\(connected) of \(fleet.clients.count) reconnected, responder \(fleet.responder.isConnected); broker log:\n\(broker.log.suffix(3000))")
                    throw error
                }
                try await fleet.roundTrips(round: 1)
            }
        }
    }

    @Test
    func keepAlivePingsGoOutFromTheLoop() async throws {
        try await withBroker { broker in
            let loop = try MQTTEventLoop(logger: .test("loop"))
            let client = try await broker.connectedClient("idle") {
                $0.eventLoop = loop
                $0.keepAlive = 5
            }
            let dropped = Mutex(false)
            // The broker drops a client silent for 1.5 × keep-alive (7.5 s); only PINGREQs
            // written by the loop's misc pass keep this one connected.
            for _ in 0..<18 {
                try await Task.sleep(for: .milliseconds(500))
                if !client.isConnected { dropped.withLock { $0 = true } }
            }
            #expect(!dropped.withLock { $0 })
            #expect(client.isConnected)
            await loop.shutdown()
        }
    }

    @Test
    func tlsClientsRunOnTheLoop() async throws {
        let certs = try await TestCertificates.generate()
        let config = """
            listener {PORT} 127.0.0.1
            cafile \(certs.caFile)
            certfile \(certs.serverCertFile)
            keyfile \(certs.serverKeyFile)
            require_certificate true
            """
        try await withBroker(extraConfig: config, listener: false) { broker in
            let loop = try MQTTEventLoop(logger: .test("loop"))
            let tls = MQTTConfiguration.TLS(caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile)
            let client = try await broker.connectedClient("tls") {
                $0.eventLoop = loop
                $0.usesTLS = true
                $0.tls = tls
            }
            let inbox = MessageInbox.draining(client)
            let topic = uniqueTopic("tls")
            try await client.subscribe(topic)
            #expect(try await client.publish(topic, payload: Data("sealed".utf8)).isDelivered)
            #expect(try await inbox.first(on: topic).payload == Data("sealed".utf8))
            await loop.shutdown()
        }
    }

    @Test
    func aRefusedClientOnTheLoopStops() async throws {
        try await SecurityTests.passwordBroker { broker in
            let loop = try MQTTEventLoop(logger: .test("loop"))
            let client = broker.makeClient("intruder") {
                $0.eventLoop = loop
                $0.username = "alice"
                $0.password = "wrong"
                $0.reconnectDelay = 0...0
            }
            let error = await #expect(throws: MQTTError.self) { try await client.connect() }
            guard case .connectionRefused = error else {
                Issue.record("expected connectionRefused, got \(String(describing: error))")
                return
            }
            await #expect(throws: MQTTError.self) { try await client.publish("t", payload: Data()) }
            try await Task.sleep(for: .milliseconds(500))
            let refusals = broker.log.split(separator: "\n").filter { $0.contains("not authorised") }
            #expect(refusals.count == 1, "\(broker.log)")
            await client.shutdown()
            #expect(loop.clientCount == 0)
            await loop.shutdown()
        }
    }

    @Test
    func shuttingDownTheLoopShutsDownItsClients() async throws {
        try await withBroker { broker in
            let loop = try MQTTEventLoop(logger: .test("loop"))
            let clients = try await withThrowingTaskGroup(of: MQTTClient.self) { group in
                for index in 0..<10 {
                    group.addTask { try await broker.connectedClient("member-\(index)") { $0.eventLoop = loop } }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            await clients[0].shutdown()
            #expect(loop.clientCount == 9)
            await loop.shutdown()
            #expect(loop.clientCount == 0)
            for client in clients {
                await #expect(throws: MQTTError.shutdown) { try await client.publish("t", payload: Data()) }
            }
            let late = broker.makeClient("late") { $0.eventLoop = loop }
            await #expect(throws: MQTTError.shutdown) { try await late.connect() }
            await late.shutdown()
        }
    }

    @Test
    func aClientOnTheLoopWaitsForABrokerThatIsNotUpYet() async throws {
        let port = try FreePort.allocate()
        let loop = try MQTTEventLoop(logger: .test("loop"))
        var configuration = MQTTConfiguration(host: "127.0.0.1", port: port, clientID: MQTTConfiguration.uniqueClientID(prefix: "early"))
        configuration.reconnectDelay = 1...1
        configuration.eventLoop = loop
        let client = MQTTClient(configuration: configuration, logger: .test("early"))
        let connecting = Task { try await client.connect() }
        let broker = try await MosquittoBroker.start(port: port)
        try await withTimeout(.seconds(15), "connect after the broker came up") { try await connecting.value }
        #expect(client.isConnected)
        await loop.shutdown()
        await broker.stopAndRemove()
    }

    static func openDescriptorCount() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
    }

    static func threadCount() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("Threads:") }
        return line.flatMap { Int($0.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
    }
}

/// Many clients on one event loop, each with its own reply topic, and a responder (on its own
/// threaded client) that answers every request with its payload and Correlation Data.
struct Fleet {
    let loop: MQTTEventLoop
    let clients: [MQTTClient]
    let responder: MQTTClient
    let prefix: String
    let replies: ReplyBox

    static func with(_ broker: MosquittoBroker, clients count: Int, _ body: (Fleet) async throws -> Void) async throws {
        let loop = try MQTTEventLoop(logger: .test("loop"))
        let prefix = uniqueTopic("fleet")
        let replies = ReplyBox()
        // On the loop as well: a threaded client cannot use a descriptor above 1023.
        let responder = try await broker.connectedClient("responder") { $0.eventLoop = loop }
        let serving = Task {
            for await request in responder.messages {
                guard let topic = request.properties.responseTopic else { continue }
                let properties = MQTTProperties(correlationData: request.properties.correlationData)
                Task { try? await responder.publish(topic, payload: request.payload, properties: properties) }
            }
        }
        try await responder.subscribe("\(prefix)/requests/+")
        let clients = try await withThrowingTaskGroup(of: MQTTClient.self) { group in
            for index in 0..<count {
                group.addTask {
                    let client = broker.makeClient("device-\(index)", configure: { $0.eventLoop = loop }, onMessage: { replies.add($0) })
                    try await withTimeout(.seconds(30), "connect device-\(index)") { try await client.connect() }
                    try await client.subscribe("\(prefix)/replies/\(index)")
                    return client
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let fleet = Fleet(loop: loop, clients: clients, responder: responder, prefix: prefix, replies: replies)
        do {
            try await body(fleet)
        } catch {
            await loop.shutdown()
            await responder.shutdown()
            throw error
        }
        await loop.shutdown()
        await responder.shutdown()
        await serving.value
    }

    /// Every client sends one request and gets its own reply back.
    func roundTrips(round: Int = 0) async throws {
        let indexed = Array(clients.enumerated())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, client) in indexed {
                let clientID = client.configuration.clientID
                group.addTask {
                    let correlation = Data("\(index)-\(round)".utf8)
                    let properties = MQTTProperties(responseTopic: "\(prefix)/replies/\(index)", correlationData: correlation)
                    let topic = "\(prefix)/requests/\(index)"
                    // Retried while the responder may still be subscribing again after a restart.
                    try await eventually("reply to \(clientID)", within: .seconds(20)) {
                        if replies.contains(correlation) { return true }
                        _ = try? await client.publish(topic, payload: Data(clientID.utf8), properties: properties)
                        do {
                            try await replies.wait(for: correlation, within: .seconds(2))
                        } catch {
                            return false
                        }
                        return true
                    }
                    // Thrown rather than expected: this also runs inside an exit test.
                    let reply = replies.message(for: correlation)
                    guard reply?.topic == "\(prefix)/replies/\(index)", reply?.payload == Data(clientID.utf8) else {
                        throw FixtureError.commandFailed("\(clientID) got \(String(describing: reply))")
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// Replies by Correlation Data.
final class ReplyBox: Sendable {
    private let messages = Mutex<[Data: MQTTMessage]>([:])
    private let changed = ChangeSignal()

    func add(_ message: MQTTMessage) {
        guard let correlation = message.properties.correlationData else { return }
        messages.withLock { $0[correlation] = message }
        changed.notify()
    }

    func contains(_ correlation: Data) -> Bool { messages.withLock { $0[correlation] != nil } }

    func message(for correlation: Data) -> MQTTMessage? { messages.withLock { $0[correlation] } }

    func wait(for correlation: Data, within limit: Duration) async throws {
        try await changed.wait("reply", within: limit) { self.contains(correlation) }
    }
}
