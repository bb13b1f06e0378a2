import Foundation
import Logging
import MQTT
import Synchronization

/// Everyone who takes part in a storm: the good devices and the bystander (on one event loop),
/// the hostile MQTT clients (on another, so that their traffic never delays the good devices'
/// replies) and the hostile wire connections, with the ledger of the good requests and the
/// tally of the hostile messages.
final class StormCrew: Sendable {
    let targets: HostileTargets
    let ledger: StormLedger
    let tally = HostileTally()
    let goodClients: [MQTTClient]
    let bystander: MQTTClient
    let hostile5: [MQTTClient]
    let hostile311: [MQTTClient]
    let wires: [WireLane]
    private let goodLoop: MQTTEventLoop
    private let hostileLoop: MQTTEventLoop
    private let brokerURL: String
    private let connects: Counter
    private let nextLane = Atomic<Int>(0)

    init(brokerURL: String, token: String, targets: HostileTargets, options: Storm.Options, logger: Logger) throws {
        self.targets = targets
        self.brokerURL = brokerURL
        ledger = StormLedger(devices: targets.goodDevices, bystander: targets.bystander)
        let goodLoop = try MQTTEventLoop(label: "storm-good", logger: logger)
        let hostileLoop = try MQTTEventLoop(label: "storm-hostile", logger: logger)
        self.goodLoop = goodLoop
        self.hostileLoop = hostileLoop
        // The hostile clients are disconnected by the broker now and then, by design: their
        // reconnects are counted, not logged.
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .error)
        func configuration(_ clientID: String, _ version: MQTTProtocolVersion, _ loop: MQTTEventLoop) throws -> MQTTConfiguration {
            var configuration = try MQTTConfiguration(url: brokerURL, clientID: clientID)
            configuration.protocolVersion = version
            configuration.eventLoop = loop
            configuration.reconnectDelay = 1...2
            return configuration
        }
        let ledger = ledger
        goodClients = try targets.goodDevices.enumerated().map { index, id in
            let version: MQTTProtocolVersion = index < options.goodMQTT5Devices ? .v5 : .v311
            return MQTTClient(configuration: try configuration("\(id)-\(token)", version, goodLoop), logger: logger, onMessage: { ledger.receive(device: index, $0) })
        }
        bystander = MQTTClient(
            configuration: try configuration("\(targets.bystander)-\(token)", .v5, goodLoop), logger: logger, onMessage: { ledger.receiveAtBystander($0) }
        )
        let connects = Counter()
        self.connects = connects
        func hostile(_ name: String, _ version: MQTTProtocolVersion) throws -> MQTTClient {
            // No subscriptions: nothing comes in.
            MQTTClient(
                configuration: try configuration("storm-\(token)-\(name)", version, hostileLoop), logger: quiet,
                onMessage: { _ in }, onConnect: { connects.add() }
            )
        }
        hostile5 = try (0..<options.mqtt5Clients).map { try hostile("v5-\($0)", .v5) }
        hostile311 = try (0..<options.mqtt311Clients).map { try hostile("v311-\($0)", .v311) }
        let address = try MQTTConfiguration(url: brokerURL, clientID: "storm")
        wires = (0..<options.wireConnections).map { WireLane(host: address.host, port: address.port, clientID: "storm-\(token)-wire-\($0)") }
    }

    /// Connects every client and subscribes the good devices and the bystander; gives up after 10 s.
    func connect() async throws {
        let clients = goodClients + [bystander] + hostile5 + hostile311
        let loops = [goodLoop, hostileLoop]
        let broker = brokerURL
        let timedOut = Counter()
        do {
            try await connect(clients, loops: loops, timedOut: timedOut)
        } catch {
            // Shutting the loops down fails the connects still waiting: that is the timeout.
            if timedOut.value > 0 { throw StormError.connectTimeout(broker: broker) }
            throw error
        }
    }

    private func connect(_ clients: [MQTTClient], loops: [MQTTEventLoop], timedOut: Counter) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                timedOut.add()
                for loop in loops { await loop.shutdown() }
                throw MQTTError.shutdown
            }
            group.addTask { [self] in
                try await withThrowingTaskGroup(of: Void.self) { connecting in
                    for client in clients { connecting.addTask { try await client.connect() } }
                    try await connecting.waitForAll()
                }
                for (index, client) in goodClients.enumerated() {
                    try await client.subscribe("devices/\(targets.goodDevices[index])/replies/#")
                }
                try await bystander.subscribe("devices/\(targets.bystander)/#")
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Sends one hostile message: through an MQTT client when libmosquitto can send it as it
    /// is, else on a wire connection. `whenDone` runs once the broker answered (or it failed).
    func send(_ message: HostileMessage, whenDone: @escaping @Sendable () -> Void) async {
        let lane = nextLane.add(1, ordering: .relaxed).newValue
        tally.record(message, viaWire: message.needsWire)
        let tally = tally
        guard let form = message.clientForm else {
            // With two or more, MQTT 5 messages go on the even connections and 3.1.1 ones on
            // the odd: a connection reconnects when the protocol changes.
            let wire: WireLane
            if wires.count >= 2 {
                let half = message.protocolVersion == .v5 ? (wires.count + 1) / 2 : wires.count / 2
                wire = wires[(lane % half) * 2 + (message.protocolVersion == .v5 ? 0 : 1)]
            } else {
                wire = wires[0]
            }
            wire.send(message) { outcome in
                tally.record(outcome)
                whenDone()
            }
            return
        }
        let client = await connectedClient(message.protocolVersion == .v5 ? hostile5 : hostile311, from: lane)
        client.publish(form.topic, payload: message.payload, qos: message.qos, properties: form.properties) { result in
            tally.record(result)
            whenDone()
        }
    }

    /// The next client from `lane` on that is connected; waits a little when none is (one the
    /// broker disconnected reconnects within a second or two).
    private func connectedClient(_ clients: [MQTTClient], from lane: Int) async -> MQTTClient {
        let deadline = ContinuousClock.now + .seconds(3)
        while true {
            for offset in clients.indices {
                let client = clients[(lane + offset) % clients.count]
                if client.isConnected { return client }
            }
            guard ContinuousClock.now < deadline else { return clients[lane % clients.count] }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Reconnections of the hostile MQTT clients so far.
    var reconnects: Int { max(0, connects.value - hostile5.count - hostile311.count) }

    func wireConnectionCount() async -> Int {
        var total = 0
        for wire in wires { total += await wire.connections() }
        return total
    }

    /// Shuts every client and wire connection down.
    func shutdown() async {
        await goodLoop.shutdown()
        await hostileLoop.shutdown()
        for wire in wires { await wire.close() }
    }
}

/// A ``WireConnection`` on a serial queue of its own: its blocking socket calls never run on
/// the concurrency pool.
///
/// `@unchecked Sendable`: the connection is touched only by blocks on `queue`, one at a time.
final class WireLane: @unchecked Sendable {
    private let queue: DispatchQueue
    private let connection: WireConnection

    init(host: String, port: Int, clientID: String) {
        queue = DispatchQueue(label: "storm.\(clientID)")
        connection = WireConnection(host: host, port: port, clientID: clientID)
    }

    func send(_ message: HostileMessage, completion: @escaping @Sendable (WireConnection.Outcome) -> Void) {
        queue.async { [self] in completion(connection.send(message)) }
    }

    func connections() async -> Int {
        await withCheckedContinuation { continuation in
            queue.async { [self] in continuation.resume(returning: connection.connections) }
        }
    }

    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { [self] in
                connection.close()
                continuation.resume()
            }
        }
    }
}

/// A count shared with the clients' hooks.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)

    func add() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

/// The hostile messages sent and what became of them.
final class HostileTally: Sendable {
    let state = Mutex(StormReport.Hostile())

    func record(_ message: HostileMessage, viaWire: Bool) {
        state.withLock { state in
            state.sent += 1
            if viaWire { state.viaWire += 1 } else { state.viaClient += 1 }
            state.bytes += message.size
            state.byCategory[message.category.rawValue, default: 0] += 1
        }
    }

    func record(_ result: Result<PublishAck, MQTTError>) {
        state.withLock { state in
            switch result {
            case .success(let ack): Self.acknowledged(&state, reason: ack.reasonCode)
            case .failure(let error) where error.isPermanent: state.refusedByClient += 1
            case .failure: state.notSent += 1
            }
        }
    }

    func record(_ outcome: WireConnection.Outcome) {
        state.withLock { state in
            switch outcome {
            case .acknowledged(let reason): Self.acknowledged(&state, reason: reason)
            case .disconnected(let reason): state.disconnectedByBroker[reason.map(Self.hex) ?? "closed", default: 0] += 1
            case .failed: state.notSent += 1
            }
        }
    }

    private static func acknowledged(_ state: inout StormReport.Hostile, reason: Int) {
        if reason >= 0x80 {
            state.refusedByBroker[hex(reason), default: 0] += 1
        } else {
            state.acknowledged += 1
            if reason == PublishAck.noMatchingSubscribers { state.noSubscribers += 1 }
        }
    }

    private static func hex(_ code: Int) -> String { String(format: "0x%02X", code) }
}
