@testable import CourierDevices
import CourierTesting
import Foundation
import MQTT
import Testing

/// Replies to requests a device sent but no longer awaits (timed out, or the run stopped, as
/// `courier dev` stops while the bridge still answers) are late: neither mismatched nor
/// unmatched. The test plays the bridge: it hands the device its replies directly.
@Suite(.timeLimit(.minutes(1)))
struct LateReplyTests {
    static func makeDevice() -> SimulatedDevice {
        let profile = DeviceProfile(
            name: "late",
            deviceCount: 1,
            idPrefix: "late-\(UUID().uuidString.prefix(6))",
            operations: [.init(name: "echo", payload: .echo(bytes: 8))],
            length: .requestsPerDevice(3),
            timeout: .seconds(30)
        )
        let context = RunContext(
            profile: profile,
            token: Simulator.makeToken(),
            maker: RequestMaker(operations: profile.operations),
            stats: RunStats(operations: profile.operations)
        )
        return SimulatedDevice(index: 0, context: context)
    }

    /// The bridge's reply to the device's request `seq`.
    static func reply(to seq: UInt64, of device: SimulatedDevice, status: Int = 200) -> MQTTMessage {
        var properties = MQTTProperties(correlationData: Data(device.context.correlation(device: device.index, seq: seq).utf8))
        properties.userProperties = [.init("status", "\(status)")]
        return MQTTMessage(topic: "devices/\(device.id)/replies/echo", payload: Data("other bytes".utf8), qos: .atLeastOnce, properties: properties)
    }

    /// Sends `count` requests at once over a real broker (nothing answers them) and returns
    /// once all are out.
    static func send(_ count: Int, from device: SimulatedDevice, over client: MQTTClient) async throws -> [Task<SimulatedDevice.Outcome, Never>] {
        let requests = (0..<count).map { _ in Task { await device.request(over: client) } }
        // A request is pending before it counts as sent.
        try await eventually("\(count) requests sent") { device.context.stats.state.withLock { $0.sent } == count }
        return requests
    }

    @Test
    func aReplyAfterTheTimeoutIsLate() async throws {
        try await withBroker { broker in
            let client = try await broker.connectedClient("late")
            let device = Self.makeDevice()
            let requests = try await Self.send(1, from: device, over: client)
            device.expire(now: device.context.clock.now + .seconds(60))
            #expect(await requests[0].value == .timedOut)

            device.receive(Self.reply(to: 0, of: device))
            let stats = device.context.stats.state.withLock { $0 }
            #expect(stats.late == 1)
            #expect(stats.timeouts == 1)
            #expect(stats.unmatched == 0)
            #expect(stats.mismatches == 0)
            await client.shutdown()
        }
    }

    @Test
    func repliesAfterTheRunStoppedAreLateAndOthersStillUnmatched() async throws {
        try await withBroker { broker in
            let client = try await broker.connectedClient("late")
            let device = Self.makeDevice()
            let requests = try await Self.send(2, from: device, over: client)
            device.abandon()
            for request in requests { #expect(await request.value == .abandoned) }

            device.receive(Self.reply(to: 0, of: device))
            device.receive(Self.reply(to: 1, of: device))
            // A request this device never sent is still no late reply.
            device.receive(Self.reply(to: 7, of: device))
            let stats = device.context.stats.state.withLock { $0 }
            #expect(stats.late == 2)
            #expect(stats.unmatched == 1)
            #expect(stats.mismatches == 0)
            #expect(stats.samples == ["unmatched: \(device.id) got a reply to request 7, which it never sent"])
            await client.shutdown()
        }
    }

    @Test
    func aSecondFinalReplyIsADuplicateNeitherLateNorUnmatched() async throws {
        try await withBroker { broker in
            let client = try await broker.connectedClient("late")
            let device = Self.makeDevice()
            let requests = try await Self.send(1, from: device, over: client)
            device.receive(Self.reply(to: 0, of: device, status: 400))
            #expect(await requests[0].value == .replied)

            device.receive(Self.reply(to: 0, of: device, status: 400))
            let stats = device.context.stats.state.withLock { $0 }
            #expect(stats.duplicates == 1)
            #expect(stats.unmatched == 0)
            #expect(stats.late == 0)
            #expect(stats.samples == ["duplicate: \(device.id) got a second final reply to request 0 (status 400)"])
            await client.shutdown()
        }
    }
}
