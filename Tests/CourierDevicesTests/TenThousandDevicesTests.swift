import CourierDevices
import CourierTestTraits
import CourierTesting
import Foundation
import Logging
import MQTT
import Synchronization
import Testing

/// The simulator's scale: 10,000 device connections in one process, on one event loop, against
/// a real mosquitto with a bare responder (no Courier, whose throughput is not measured here).
@Suite(.timeLimit(.minutes(3)))
struct TenThousandDevicesTests {
    static let devices = 10_000

    /// Runs in a process of its own (an exit test), for the open-file limit it raises and the
    /// 10,000 descriptors it opens. The broker started there inherits the raised limit. On
    /// threads of its own: the exit test blocks the thread that reads the child's output.
    @Test(.ownThreads, .heavyLoad, .enabled(
        if: MQTTEventLoop.raiseOpenFileLimit() >= devices * MQTTEventLoop.descriptorsPerClient + 6000,
        "needs about 16,000 open files (ulimit -n)"
    ))
    func tenThousandDevicesConnectOnOneEventLoopAndEachCompletesARequest() async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            try await TenThousandDevicesTests.run()
        }
        if let result {
            let output = String(decoding: result.standardOutputContent, as: UTF8.self)
            print(output)
            if result.exitStatus != .exitCode(0) {
                Issue.record("\(output)\n\(String(decoding: result.standardErrorContent, as: UTF8.self))")
            }
        }
    }

    /// The body of the test above, in the child process: exits 1 with the problems on stderr.
    static func run() async throws {
        MQTTEventLoop.raiseOpenFileLimit()
        var problems: [String] = []
        // mosquitto's default is no limit; said here because the test depends on it.
        try await withBroker(extraConfig: "max_connections -1") { broker in
            try await withResponder(on: broker) {
                var profile = SimulatorTests.thermostats(devices, requests: 1)
                profile.operations = [.init(name: "echo", payload: .echo(bytes: 16))]
                var simulator = try Simulator(profile: profile, broker: broker.url, logger: .test("simulator"))
                simulator.devicesPerLoop = devices
                simulator.progressInterval = .seconds(1)
                let highestFD = Mutex(0)
                let started = ContinuousClock.now
                let report = try await simulator.run { progress in
                    highestFD.withLock { $0 = max($0, SimulatorTests.highestOpenFD()) }
                    print(progress.line)
                }
                let elapsed = started.duration(to: .now)
                print(report.summary)
                print("10,000 devices: connected in \(String(format: "%.1f", report.connectSeconds)) s, whole run \(elapsed), highest descriptor \(highestFD.withLock { $0 })")
                if report.eventLoops != 1 { problems.append("\(report.eventLoops) event loops") }
                if report.replies != ["200": devices] || !report.isClean { problems.append("replies \(report.replies), clean \(report.isClean)") }
                if report.reconnects != 0 { problems.append("\(report.reconnects) reconnects") }
                if elapsed >= .seconds(40) { problems.append("took \(elapsed)") }
            }
        }
        guard problems.isEmpty else {
            FileHandle.standardError.write(Data(problems.joined(separator: "\n").utf8))
            exit(1)
        }
    }

    /// Answers every request at once with its own payload and status 200. Its client connects
    /// first, so its descriptor stays below 1024 for its `select()` loop.
    static func withResponder(on broker: MosquittoBroker, _ body: () async throws -> Void) async throws {
        let responder = try await broker.connectedClient("responder") { $0.inboundCapacity = devices }
        let serving = Task {
            await withDiscardingTaskGroup { group in
                for await request in responder.messages {
                    guard let topic = request.properties.responseTopic else { continue }
                    group.addTask {
                        var properties = MQTTProperties(correlationData: request.properties.correlationData)
                        properties.userProperties = [.init("status", "200")]
                        _ = try? await responder.publish(topic, payload: request.payload, properties: properties)
                    }
                }
            }
        }
        try await responder.subscribe("devices/+/requests/+")
        try await body()
        await responder.shutdown()
        await serving.value
    }
}
