import CourierTesting
import Foundation
import MQTT
import Testing

/// The mosquitto command-line clients as the other side.
@Suite(.timeLimit(.minutes(1)))
struct InteropTests {
    @Test
    func mosquittoRRGetsAnAnswerFromAResponder() async throws {
        try await withBroker { broker in
            let topic = uniqueTopic("rr")
            let responder = try await broker.connectedClient("responder")
            try await responder.subscribe(topic)
            let serving = Task {
                for await request in responder.messages {
                    guard let replyTo = request.properties.responseTopic else { continue }
                    try await responder.publish(
                        replyTo,
                        payload: Data("pong:".utf8) + request.payload,
                        properties: .init(correlationData: request.properties.correlationData)
                    )
                }
            }
            let result = try await Command.run(
                "mosquitto_rr",
                ["-p", "\(broker.port)", "-h", "127.0.0.1", "-t", topic, "-e", "\(topic)/reply", "-m", "ping",
                 "-D", "publish", "correlation-data", "c-42", "-W", "10"]
            )
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "pong:ping")
            serving.cancel()
            await responder.shutdown()
        }
    }

    @Test
    func mosquittoPubAndSubSeeOurProperties() async throws {
        try await withBroker { broker in
            let topic = uniqueTopic("cli")
            let client = try await broker.connectedClient("cli")
            let inbox = MessageInbox.draining(client)
            try await client.subscribe(topic)
            let published = try await Command.run(
                "mosquitto_pub",
                ["-p", "\(broker.port)", "-t", topic, "-m", "from cli", "-q", "1", "-V", "5",
                 "-D", "publish", "user-property", "traceparent", "00-01-02-01",
                 "-D", "publish", "content-type", "text/plain"]
            )
            #expect(published.status == 0, "\(published.stderr)")
            let message = try await inbox.first(on: topic)
            #expect(message.payload == Data("from cli".utf8))
            #expect(message.properties.userProperty("traceparent") == "00-01-02-01")
            #expect(message.properties.contentType == "text/plain")

            let out = "\(topic)/out"
            let subscriber = Task {
                try await Command.run(
                    "mosquitto_sub", ["-p", "\(broker.port)", "-t", out, "-C", "1", "-V", "5", "-F", "%t|%p|%C|%R", "-W", "10"]
                )
            }
            try await eventually("mosquitto_sub subscribed") {
                try await client.publish(out, payload: Data("to cli".utf8), properties: .init(responseTopic: "r/t", contentType: "text/x")).isDelivered
            }
            let received = try await subscriber.value
            #expect(received.stdout.hasPrefix("\(out)|to cli|text/x|r/t"), "\(received.stdout) \(received.stderr)")
            await client.shutdown()
        }
    }
}
