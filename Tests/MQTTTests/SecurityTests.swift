import CourierTesting
import Foundation
import MQTT
import Testing

@Suite(.timeLimit(.minutes(1)))
struct SecurityTests {
    static func passwordBroker(_ body: (MosquittoBroker) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-pw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("passwords").path
        let made = try await Command.run("mosquitto_passwd", ["-b", "-c", file, "alice", "secret"])
        #expect(made.status == 0, "\(made.stderr)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withBroker(extraConfig: "allow_anonymous false\npassword_file \(file)", body)
    }

    @Test(arguments: [MQTTProtocolVersion.v5, .v311])
    func aWrongPasswordIsAClearErrorAndTheClientStops(version: MQTTProtocolVersion) async throws {
        try await Self.passwordBroker { broker in
            let client = broker.makeClient("intruder", protocolVersion: version) {
                $0.username = "alice"
                $0.password = "wrong"
                $0.reconnectDelay = 0...0  // a client that retried would do so at once
            }
            let error = await #expect(throws: MQTTError.self) { try await client.connect() }
            guard case .connectionRefused(let code, let reason) = error else {
                Issue.record("expected connectionRefused, got \(String(describing: error))")
                return
            }
            #expect(code == (version == .v5 ? 134 : 5) || code == 135 || code == 4, "reason \(code): \(reason)")
            // The client does not retry: later calls fail at once with the same error.
            await #expect(throws: MQTTError.self) { try await client.publish("t", payload: Data()) }
            // A later, good client's connection is logged after anything the intruder retried.
            let good = try await broker.connectedClient("good") {
                $0.username = "alice"
                $0.password = "secret"
            }
            let goodID = good.configuration.clientID
            try await eventually("good client logged") { broker.log.contains(goodID) }
            let refusals = broker.log.split(separator: "\n").filter { $0.contains("not authorised") }
            #expect(refusals.count == 1, "\(broker.log)")
            await good.shutdown()
            await client.shutdown()
        }
    }

    @Test
    func theRightPasswordConnects() async throws {
        try await Self.passwordBroker { broker in
            let client = try await broker.connectedClient("alice") {
                $0.username = "alice"
                $0.password = "secret"
            }
            #expect(client.isConnected)
            await client.shutdown()
        }
    }

    @Test
    func tlsWithAClientCertificate() async throws {
        let certs = try await TestCertificates.generate()
        let config = """
            listener {PORT} 127.0.0.1
            cafile \(certs.caFile)
            certfile \(certs.serverCertFile)
            keyfile \(certs.serverKeyFile)
            require_certificate true
            """
        try await withBroker(extraConfig: config, listener: false) { broker in
            let tls = MQTTConfiguration.TLS(caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile)
            let client = try await broker.connectedClient("tls") {
                $0.usesTLS = true
                $0.tls = tls
            }
            let inbox = MessageInbox.draining(client)
            let topic = uniqueTopic("tls")
            try await client.subscribe(topic)
            #expect(try await client.publish(topic, payload: Data("sealed".utf8)).isDelivered)
            #expect(try await inbox.first(on: topic).payload == Data("sealed".utf8))
            await client.shutdown()
        }
    }

    @Test
    func mqttsURLsParse() throws {
        let secure = try MQTTConfiguration(url: "mqtts://broker.example:8884", clientID: "c")
        #expect(secure.usesTLS && secure.port == 8884 && secure.host == "broker.example")
        let plain = try MQTTConfiguration(url: "mqtt://127.0.0.1", clientID: "c")
        #expect(!plain.usesTLS && plain.port == 1883)
        #expect(throws: MQTTError.self) { try MQTTConfiguration(url: "http://x", clientID: "c") }
    }
}
