import CourierProcess
import CourierTestTraits
import CourierTesting
import Foundation
import MQTT
import Testing

/// `courier serve` (bridge and workers in one process) and `courier worker` daemons, driven by
/// real clients.
@Suite(.timeLimit(.minutes(3)))
struct ServeTests {
    func withServe(_ body: (MosquittoBroker, CourierDaemon) async throws -> Void) async throws {
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-serve-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker, limits: "  maxPendingPerDevice: 64")
            let serve = try await CourierDaemon.start(["serve", "--config", config], readyLine: "bridge started", directory: directory)
            do {
                try await body(broker, serve)
            } catch {
                print("serve log:\n\(serve.log)")
                await serve.stop()
                throw error
            }
            #expect(await serve.stop() == 0)
            // Kept when the body failed, for the log.
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test
    func mosquittoRRGetsItsAnswer() async throws {
        try await withServe { broker, _ in
            let result = try await Command.run(
                "mosquitto_rr",
                ["-p", "\(broker.port)", "-t", "devices/rr-1/requests/echo", "-e", "devices/rr-1/replies/echo", "-m", "ping", "-W", "10"]
            )
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "ping")

            let summary = try await Command.run(
                "mosquitto_rr",
                ["-p", "\(broker.port)", "-t", "devices/rr-1/requests/telemetry.summary", "-e", "devices/rr-1/replies/summary",
                 "-m", "{\"sensor\":\"temp\",\"readings\":[2,4,4,4,5,5,7,9]}", "-D", "publish", "correlation-data", "s-1", "-W", "10"]
            )
            let json = try JSONSerialization.jsonObject(with: Data(summary.stdout.utf8)) as? [String: Any]
            #expect(json?["mean"] as? Double == 5)
            #expect(json?["stddev"] as? Double == 2)
            #expect(json?["count"] as? Int == 8)
        }
    }

    /// Each of these once killed the bridge (libmosquitto 2.0.11 crashed copying an empty
    /// string property into the reply).
    @Test(arguments: [
        ["user-property", "k", ""], ["user-property", "", "v"], ["content-type", ""], ["user-property", "traceparent", ""],
    ])
    func mosquittoRRWithAnEmptyStringPropertyGetsItsAnswer(_ property: [String]) async throws {
        try await withServe { broker, serve in
            let result = try await Command.run(
                "mosquitto_rr",
                ["-p", "\(broker.port)", "-t", "devices/rr-2/requests/echo", "-e", "devices/rr-2/replies/x", "-m", "hi", "-W", "10", "-D", "publish"] + property
            )
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "hi")
            #expect(serve.isRunning)
        }
    }

    @Test(.heavyLoad)
    func aHundredDevicesTimesTwentyRequestsGetTheirOwnReplies() async throws {
        try await withServe { broker, _ in try await Self.hundredDevicesTimesTwenty(on: broker) }
    }

    @Test(.heavyLoad)
    func aHundredDevicesTimesTwentyRequestsGetTheirOwnRepliesThroughBridgeAndWorker() async throws {
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-fleet-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker, limits: "  maxPendingPerDevice: 64")
            let worker = try await CourierDaemon.start(["worker", "--config", config], readyLine: "worker started", directory: directory)
            let bridge = try await CourierDaemon.start(["bridge", "--config", config], readyLine: "bridge started", directory: directory)
            try await Self.hundredDevicesTimesTwenty(on: broker)
            #expect(await bridge.stop() == 0)
            #expect(await worker.stop() == 0)
        }
    }

    /// 100 devices send 20 requests each at once; each gets exactly its own 20 replies.
    static func hundredDevicesTimesTwenty(on broker: MosquittoBroker) async throws {
        let devices = try await withThrowingTaskGroup(of: Device.self) { group in
            for index in 0..<100 { group.addTask { try await Device.connect("fleet-\(index)", to: broker) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for device in devices {
                group.addTask {
                    for request in 0..<20 {
                        try await device.ask("echo", Data("\(device.id)#\(request)".utf8), correlation: "\(device.id)/\(request)")
                    }
                    for request in 0..<20 {
                        let reply = try await device.reply(to: "\(device.id)/\(request)", within: .seconds(60))
                        #expect(reply.status == 200 && reply.text == "\(device.id)#\(request)", "\(reply.status ?? 0) \(reply.text)")
                    }
                    #expect(device.replies.all.count == 20)
                }
            }
            try await group.waitForAll()
        }
        for device in devices { await device.shutdown() }
    }

    @Test
    func aKilledWorkersAttemptIsRetriedOnTheOtherWorker() async throws {
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-workers-\(UUID().uuidString)")
            let config = try writeQuickRetryConfig(in: directory, broker: broker)
            let bridge = try await CourierDaemon.start(["bridge", "--config", config], readyLine: "bridge started", directory: directory)
            let worker = try await CourierDaemon.start(["worker", "--config", config], readyLine: "worker started", directory: directory)
            // A second group member that takes work and dies with it: a real process, killed.
            let output = directory.appendingPathComponent("doomed.out").path
            let doomed = try ChildProcess.spawn(
                "mosquitto_sub", ["-p", "\(broker.port)", "-V", "5", "-q", "1", "-t", "$share/courier-workers/courier/work/echo", "-F", "%p"],
                output: output
            )
            let device = try await Device.connect("d-retry", to: broker)
            var victim: String?
            for index in 0..<20 where victim == nil {
                try await device.ask("echo", Data("m\(index)".utf8), correlation: "m\(index)")
                try await eventually("answered or taken") {
                    let taken = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                    if taken.contains("m\(index)") { victim = "m\(index)"; return true }
                    return device.replies.all.contains { $0.properties.correlationData == Data("m\(index)".utf8) }
                }
            }
            let taken = try #require(victim)
            doomed.signal(SIGKILL)
            await doomed.wait()
            let reply = try await device.reply(to: taken, within: .seconds(10))
            #expect(reply.status == 200 && reply.text == taken)
            await device.shutdown()
            #expect(await worker.stop() == 0)
            await bridge.stop()
        }
    }
}
