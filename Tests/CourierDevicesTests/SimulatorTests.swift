import CourierDevices
import CourierTestTraits
import CourierTesting
import Foundation
import Logging
import MQTT
import Synchronization
import Testing

/// The simulator against a real broker and a real `courier serve`.
@Suite(.timeLimit(.minutes(3)))
struct SimulatorTests {
    /// A broker (that takes any number of connections) and `courier serve` with the echo and
    /// telemetry.summary operations.
    static func withCourier(_ body: (MosquittoBroker) async throws -> Void) async throws {
        try await withBroker(extraConfig: "max_connections -1") { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-devices-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker)
            let serve = try await CourierDaemon.start(["serve", "--config", config], readyLine: "bridge started", directory: directory)
            do {
                try await body(broker)
            } catch {
                print("serve log:\n\(serve.log)")
                await serve.stop()
                throw error
            }
            await serve.stop()
            // Kept when the body failed, for the log.
            try? FileManager.default.removeItem(at: directory)
        }
    }

    static func thermostats(_ count: Int, requests: Int, convention: DeviceProfile.Convention = .mqtt5) -> DeviceProfile {
        DeviceProfile(
            name: "thermostat-test",
            convention: convention,
            deviceCount: count,
            idPrefix: "thermo-\(UUID().uuidString.prefix(6))",
            operations: [
                .init(name: "telemetry.summary", weight: 3, payload: .telemetry(.init(sensor: "temp", readings: 24, mean: 21.5, noise: 0.4))),
                .init(name: "echo", weight: 1, payload: .echo(bytes: 64)),
            ],
            mode: .closed(outstanding: 1),
            length: .requestsPerDevice(requests),
            timeout: .seconds(15)
        )
    }

    @Test
    func fiftyThermostatsGetEveryReplyAndOnlyTheirOwn() async throws {
        try await Self.withCourier { broker in
            let simulator = try Simulator(profile: Self.thermostats(50, requests: 6), broker: broker.url, logger: .test("simulator"))
            let report = try await simulator.run { _ in }
            #expect(report.sent == 300)
            #expect(report.replies == ["200": 300], "\(report.summary)")
            #expect(report.mismatches == 0)
            #expect(report.unmatched == 0)
            #expect(report.timeouts == 0)
            #expect(report.operations["telemetry.summary"]?.sent ?? 0 > 0)
            #expect(report.operations["echo"]?.sent ?? 0 > 0)
            #expect(report.latency.count == 300 && report.latency.p50 > 0 && report.latency.max >= report.latency.p99)
            #expect(report.requestsPerSecond > 0)
            #expect(report.isClean, "\(report.summary)")
        }
    }

    @Test
    func legacyDevicesUseTheTopicConvention() async throws {
        try await Self.withCourier { broker in
            let profile = Self.thermostats(20, requests: 5, convention: .mqtt311)
            let simulator = try Simulator(profile: profile, broker: broker.url, logger: .test("simulator"))
            let report = try await simulator.run { _ in }
            #expect(report.protocol == .mqtt311)
            #expect(report.replies == ["200": 100], "\(report.summary)")
            #expect(report.isClean, "\(report.summary)")
        }
    }

    @Test(.ownThreads)  // A duration-bound run: its senders must not wait for the shared pool.
    func theShippedLegacyProfileRunsForItsDuration() async throws {
        try await Self.withCourier { broker in
            var profile = try DeviceProfile.load(path: DeviceProfileTests.profiles.appendingPathComponent("legacy-311.yaml").path)
            // Long enough that a loaded machine (the whole suite in parallel on two cores) still
            // runs the devices' send loops: with 2 s one run sent nothing at all.
            profile.length = .duration(.seconds(5))
            var simulator = try Simulator(profile: profile, broker: broker.url, count: 10, logger: .test("simulator"))
            simulator.progressInterval = .milliseconds(500)
            let lines = Mutex<[SimulatorProgress]>([])
            let report = try await simulator.run { progress in lines.withLock { $0.append(progress) } }
            #expect(report.devices == 10)
            #expect(report.sent >= 10)
            #expect(report.replies["200"] == report.sent, "\(report.summary)")
            #expect(report.isClean, "\(report.summary)")
            // Ticks every 500 ms over 5 s of sending; on a loaded machine they may come late,
            // when the run is already draining, but at least one comes while sending.
            let sending = lines.withLock { $0.filter { $0.phase == .running || $0.phase == .draining } }
            #expect(!sending.isEmpty, "progress while sending")
            #expect(sending.last.map { $0.line.contains("10/10 connected") } == true)
        }
    }

    /// Runs in a process of its own (an exit test): 1,500 connections in the shared test
    /// process would push every other suite's new sockets above 1023, where libmosquitto's
    /// threaded loop (select) fails.
    @Test(.ownThreads, .enabled(if: MQTTEventLoop.raiseOpenFileLimit() >= 1500 * 3 + 1024, "needs about 5,500 open files"))
    func fifteenHundredDevicesConnectOnOneEventLoopAndEachCompletesARequest() async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent, \.standardErrorContent]) {
            try await SimulatorTests.fifteenHundredDevices()
        }
        if let result, result.exitStatus != .exitCode(0) {
            Issue.record("""
                \(String(decoding: result.standardOutputContent, as: UTF8.self))
                \(String(decoding: result.standardErrorContent, as: UTF8.self))
                """)
        }
    }

    /// The body of the test above, in the child process: exits 1 with the problems on stderr.
    static func fifteenHundredDevices() async throws {
        MQTTEventLoop.raiseOpenFileLimit()
        var problems: [String] = []
        try await withCourier { broker in
            var profile = thermostats(1500, requests: 1)
            profile.operations = [.init(name: "echo", payload: .echo(bytes: 16))]
            var simulator = try Simulator(profile: profile, broker: broker.url, logger: .test("simulator"))
            simulator.progressInterval = .milliseconds(250)
            // select() cannot watch descriptor 1024 or above; the event loop must.
            let highestFD = Mutex(0)
            let started = ContinuousClock.now
            let report = try await simulator.run { _ in highestFD.withLock { $0 = max($0, highestOpenFD()) } }
            let elapsed = started.duration(to: .now)
            print(report.summary)
            if report.eventLoops != 1 { problems.append("\(report.eventLoops) event loops") }
            if report.replies != ["200": 1500] || !report.isClean { problems.append("replies \(report.replies), clean \(report.isClean)") }
            if highestFD.withLock({ $0 }) < 1024 { problems.append("highest descriptor \(highestFD.withLock { $0 })") }
            if elapsed >= .seconds(30) { problems.append("took \(elapsed)") }
        }
        guard problems.isEmpty else {
            FileHandle.standardError.write(Data(problems.joined(separator: "\n").utf8))
            exit(1)
        }
    }

    static func highestOpenFD() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap(Int.init).max() ?? 0
    }
}

/// The checks themselves, against stand-in bridges that misbehave on purpose (no Courier).
@Suite(.timeLimit(.minutes(1)))
struct SimulatorVerificationTests {
    static func profile(devices: Int, timeout: Duration = .seconds(5)) -> DeviceProfile {
        DeviceProfile(
            name: "check",
            deviceCount: devices,
            idPrefix: "chk-\(UUID().uuidString.prefix(6))",
            operations: [.init(name: "echo", payload: .echo(bytes: 8))],
            length: .requestsPerDevice(3),
            timeout: timeout
        )
    }

    /// Answers every MQTT 5 request on the Response Topic that `route` picks, with `status`.
    static func withResponder(
        on broker: MosquittoBroker,
        route: @escaping @Sendable (String) -> String,
        payload: @escaping @Sendable (Data) -> Data = { $0 },
        _ body: () async throws -> Void
    ) async throws {
        let responder = try await broker.connectedClient("responder")
        let serving = Task {
            for await request in responder.messages {
                guard let topic = request.properties.responseTopic else { continue }
                var properties = MQTTProperties(correlationData: request.properties.correlationData)
                properties.userProperties = [.init("status", "200")]
                _ = try? await responder.publish(route(topic), payload: payload(request.payload), properties: properties)
            }
        }
        try await responder.subscribe("devices/+/requests/+")
        try await body()
        await responder.shutdown()
        await serving.value
    }

    /// How long the mismatch tests' devices wait: each wrong reply must arrive within it to
    /// count as a mismatch rather than as late, and each request then waits it out. 1 s was
    /// once too short for a reply with the whole suite in parallel on two cores.
    static let mismatchTimeout = Duration.seconds(3)

    @Test
    func aReplyDeliveredToAnotherDeviceIsAMismatch() async throws {
        try await withBroker { broker in
            let profile = Self.profile(devices: 2, timeout: Self.mismatchTimeout)
            // Sends device 1's replies to device 2 and the other way round.
            let swap: @Sendable (String) -> String = { topic in
                let first = "\(profile.idPrefix)-1/", second = "\(profile.idPrefix)-2/"
                return topic.contains(first) ? topic.replacingOccurrences(of: first, with: second) : topic.replacingOccurrences(of: second, with: first)
            }
            try await Self.withResponder(on: broker, route: swap) {
                let report = try await Simulator(profile: profile, broker: broker.url, logger: .test("sim")).run { _ in }
                #expect(report.mismatches == 6, "\(report.summary)")
                #expect(report.timeouts == 6)
                #expect(report.replies.isEmpty)
                #expect(!report.isClean)
                #expect(report.samples.first?.contains("got the reply to") == true, "\(report.samples)")
            }
        }
    }

    @Test
    func anEchoWithOtherBytesIsAMismatch() async throws {
        try await withBroker { broker in
            let profile = Self.profile(devices: 1, timeout: Self.mismatchTimeout)
            try await Self.withResponder(on: broker, route: { $0 }, payload: { _ in Data("tampered".utf8) }) {
                let report = try await Simulator(profile: profile, broker: broker.url, logger: .test("sim")).run { _ in }
                #expect(report.mismatches == 3, "\(report.summary)")
                #expect(report.timeouts == 3)
            }
        }
    }

    @Test
    func anOpenLoopSendsOnScheduleAndItsSummaryRoundTripsThroughJSON() async throws {
        try await withBroker { broker in
            // A timeout far above what a loaded test process takes to answer.
            var profile = Self.profile(devices: 2, timeout: .seconds(30))
            profile.mode = .rate(requestsPerSecond: 400)
            profile.length = .requestsPerDevice(20)
            try await Self.withResponder(on: broker, route: { $0 }) {
                let report = try await Simulator(profile: profile, broker: broker.url, logger: .test("sim")).run { _ in }
                #expect(report.sent == 40)
                #expect(report.replies == ["200": 40], "\(report.summary)")
                #expect(report.isClean, "\(report.summary)")
                // The last request was due 39 / 400 s after the first: no sooner.
                #expect(report.sendSeconds >= 39.0 / 400, "\(report.sendSeconds)")
                #expect(report.cpuSeconds > 0)
                let line = try SimulatorJSONLine(summary: report).encoded()
                #expect(!line.contains("\n"))
                #expect(try SimulatorJSONLine(decoding: line).summary == report)
            }
        }
    }

    @Test
    func withNothingServingEveryRequestTimesOut() async throws {
        try await withBroker { broker in
            let report = try await Simulator(profile: Self.profile(devices: 4, timeout: .milliseconds(300)), broker: broker.url, logger: .test("sim")).run { _ in }
            #expect(report.sent == 12)
            #expect(report.timeouts == 12)
            #expect(report.noSubscribers == 12)
            #expect(report.summary.contains("no subscriber"))
            #expect(!report.isClean)
        }
    }

    @Test
    func cancellingWhileConnectingToAMissingBrokerStopsPromptly() async throws {
        let port = try FreePort.allocate()
        var simulator = try Simulator(profile: Self.profile(devices: 2), broker: "mqtt://127.0.0.1:\(port)", logger: .test("sim"))
        simulator.progressInterval = .seconds(1)
        let task = Task { try await simulator.run { _ in } }
        try await Task.sleep(for: .milliseconds(500))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}
