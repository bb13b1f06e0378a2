import CourierTesting
import Foundation
import MQTT
import Testing

/// `courier serve` on a layout of its own (`topics:`): devices that keep their firmware's
/// topics are answered there, and confinement follows the layout's reply namespace.
@Suite(.timeLimit(.minutes(2)))
struct TopicLayoutServeTests {
    static let topics = """
        topics:
          request: "v1/devices/{device}/rpc/request/{operation}"
          replies: "v1/devices/{device}/rpc/response"
        """

    @Test
    func devicesOnAnotherLayoutAreAnsweredAndConfined() async throws {
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-layout-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: config))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(("\n" + Self.topics + "\n").utf8))
            try handle.close()
            let serve = try await CourierDaemon.start(["serve", "--config", config], readyLine: "bridge started", directory: directory)

            let answered = try await Command.run("mosquitto_rr", [
                "-V", "5", "-p", "\(broker.port)", "-q", "1", "-W", "10",
                "-t", "v1/devices/fw-1/rpc/request/echo", "-e", "v1/devices/fw-1/rpc/response",
                "-D", "publish", "correlation-data", "c-1", "-m", "firmware says hi", "-F", "%t [%P] %D %p",
            ])
            #expect(answered.status == 0, "\(answered.stderr)\n\(serve.log)")
            #expect(answered.stdout == "v1/devices/fw-1/rpc/response [status:200] c-1 firmware says hi\n")

            // The default layout is not served any more.
            let unserved = try await Command.run("mosquitto_rr", [
                "-V", "5", "-p", "\(broker.port)", "-q", "1", "-W", "2",
                "-t", "devices/fw-1/requests/echo", "-e", "devices/fw-1/replies/echo", "-m", "old layout",
            ])
            #expect(unserved.status != 0, "\(unserved.stdout)")

            // A Response Topic outside fw-1's namespace (another device's) gets no reply: the
            // request is dead-lettered as forbidden_response_topic.
            let watcher = try await broker.connectedClient("layout-watch")
            let inbox = MessageInbox.draining(watcher)
            try await watcher.subscribe("courier/deadletters/#")
            try await watcher.subscribe("v1/devices/fw-2/rpc/response/#")
            let device = try await broker.connectedClient("fw-1")
            var properties = MQTTProperties()
            properties.responseTopic = "v1/devices/fw-2/rpc/response"
            properties.correlationData = Data("c-2".utf8)
            try await device.publish("v1/devices/fw-1/rpc/request/echo", payload: Data("steer".utf8), properties: properties)
            let letter = String(decoding: try await inbox.first(on: "courier/deadletters/echo").payload, as: UTF8.self)
            #expect(letter.contains(#""reason":"forbidden_response_topic""#) && letter.contains(#""device":"fw-1""#), "\(letter)")
            #expect(inbox.all.allSatisfy { !$0.topic.hasPrefix("v1/devices/fw-2/") })
            await device.shutdown()
            await watcher.shutdown()
            #expect(await serve.stop() == 0)
        }
    }
}
