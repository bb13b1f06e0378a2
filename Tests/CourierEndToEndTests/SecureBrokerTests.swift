import CourierTesting
import Foundation
import MQTT
import Synchronization
import Testing

/// The shipped broker configuration, proved with real clients: `Config/mosquitto-secure.conf`
/// with `Config/mosquitto.acl` binds every device to its own topics, and the bridge and worker
/// accounts can do their jobs over TLS; both shipped configurations start as they are.
@Suite(.timeLimit(.minutes(2)))
struct SecureBrokerTests {
    // MARK: Device confinement

    @Test("a device publishes into its own request namespace, never into another device's", arguments: [MQTTProtocolVersion.v5, .v311])
    func aDeviceCannotPublishIntoAnotherDevicesRequests(version: MQTTProtocolVersion) async throws {
        try await SecureBroker.with { secure in
            let bridge = try await secure.client("courier-bridge")
            let intake = MessageInbox.draining(bridge)
            try await bridge.subscribe("devices/+/requests/#")
            let deviceA = try await secure.client("device-a", protocolVersion: version)

            let own = try await deviceA.publish("devices/device-a/requests/echo", payload: Data("own".utf8))
            #expect(own.isDelivered)
            let forbidden = try await deviceA.publish("devices/device-b/requests/echo", payload: Data("forged".utf8))
            if version == .v5 {
                #expect(forbidden.reasonCode == 135, "MQTT 5 PUBACK: not authorised")
            }
            // The broker handles one client's publishes in order: once the sentinel published
            // after the forbidden message has arrived, the forbidden one would have too.
            try await deviceA.publish("devices/device-a/requests/echo", payload: Data("sentinel".utf8))
            try await intake.wait { $0.payload == Data("sentinel".utf8) }

            #expect(intake.on("devices/device-a/requests/echo").map(\.payload) == [Data("own".utf8), Data("sentinel".utf8)])
            #expect(intake.on("devices/device-b/requests/echo").isEmpty, "device-a injected a request as device-b")
        }
    }

    @Test("a device cannot read another device's replies, even with wildcards")
    func aDeviceCannotReadAnotherDevicesReplies() async throws {
        try await SecureBroker.with { secure in
            let bridge = try await secure.client("courier-bridge")
            let deviceA = try await secure.client("device-a")
            let deviceB = try await secure.client("device-b")
            let inboxA = MessageInbox.draining(deviceA)
            let inboxB = MessageInbox.draining(deviceB)
            // mosquitto 2.0 grants these subscriptions and filters at delivery; a broker that
            // refused them outright would be just as good.
            for filter in ["devices/device-b/replies/#", "devices/+/replies/#", "#"] {
                do {
                    try await deviceA.subscribe(filter)
                } catch MQTTError.subscriptionRefused {}
            }
            try await deviceA.subscribe("devices/device-a/replies/#")
            try await deviceB.subscribe("devices/device-b/replies/#")

            try await bridge.publish("devices/device-b/replies/echo", payload: Data("for b only".utf8))
            try await bridge.publish("devices/device-a/replies/echo", payload: Data("sentinel".utf8))

            // The rightful owner gets its reply, so the message did flow through the broker.
            try await inboxB.wait { $0.payload == Data("for b only".utf8) }
            // Messages from one publisher reach a subscriber in order: device-a's sentinel
            // comes after anything it would have received of device-b's reply.
            try await inboxA.wait { $0.payload == Data("sentinel".utf8) }
            #expect(inboxA.all.allSatisfy { $0.topic == "devices/device-a/replies/echo" }, "\(inboxA.all.map(\.topic))")
            #expect(!inboxA.all.contains { $0.payload == Data("for b only".utf8) }, "device-a read device-b's reply")
            #expect(inboxB.all.allSatisfy { $0.topic.hasPrefix("devices/device-b/") })
        }
    }

    @Test("a device can neither inject work nor pose as a worker or the bridge")
    func aDeviceCannotUseCourierTopics() async throws {
        try await SecureBroker.with { secure in
            let bridge = try await secure.client("courier-bridge")
            let watch = MessageInbox.draining(bridge)
            try await bridge.subscribe("courier/#")
            let device = try await secure.client("device-a")
            for topic in ["courier/work/echo", "courier/bridges/bridge-1/replies", "courier/workers/fake", "courier/deadletters/echo"] {
                let ack = try await device.publish(topic, payload: Data("forged".utf8))
                #expect(ack.reasonCode == 135, "\(topic): reason \(ack.reasonCode)")
            }
            try await bridge.publish("courier/work/echo", payload: Data("sentinel".utf8))
            try await watch.wait { $0.payload == Data("sentinel".utf8) }
            #expect(!watch.all.contains { $0.payload == Data("forged".utf8) })
        }
    }

    // MARK: Bridge and workers

    @Test("bridge and worker log in over TLS and exchange work through the shared subscription")
    func bridgeAndWorkerDoTheirRolesOverTLS() async throws {
        try await SecureBroker.with { secure in
            let bridge = try await secure.client("courier-bridge")
            let bridgeInbox = MessageInbox.draining(bridge)
            try await bridge.subscribe("courier/bridges/bridge-1/replies")
            try await bridge.subscribe("courier/workers/+")
            try await bridge.subscribe("devices/+/requests/#")

            let worker = try await secure.client("courier-worker") {
                $0.will = .init(topic: "courier/workers/worker-1", payload: Data(), retain: true)
            }
            let workerInbox = MessageInbox.draining(worker)
            #expect(worker.configuration.usesTLS && bridge.configuration.usesTLS)
            // Presence, retained, as workers announce themselves.
            #expect(try await worker.publish("courier/workers/worker-1", payload: Data(#"{"operations":["echo"]}"#.utf8), retain: true).isDelivered)
            try await bridgeInbox.wait { $0.topic == "courier/workers/worker-1" }
            try await worker.subscribe("$share/courier-workers/courier/work/echo")

            // The bridge hands out work the way Courier does and the worker answers it.
            let correlation = Data("request-42".utf8)
            let work = MQTTProperties(responseTopic: "courier/bridges/bridge-1/replies", correlationData: correlation, userProperties: [.init("courier-device", "device-a")])
            #expect(try await bridge.publish("courier/work/echo", payload: Data("ping".utf8), properties: work).isDelivered)
            let received = try await workerInbox.first(on: "courier/work/echo")
            #expect(received.payload == Data("ping".utf8))
            #expect(received.properties.correlationData == correlation)
            let responseTopic = try #require(received.properties.responseTopic)
            let reply = MQTTProperties(correlationData: correlation, userProperties: [.init("status", "200")])
            #expect(try await worker.publish(responseTopic, payload: Data("pong".utf8), properties: reply).isDelivered)
            let answer = try await bridgeInbox.first(on: "courier/bridges/bridge-1/replies")
            #expect(answer.payload == Data("pong".utf8) && answer.properties.correlationData == correlation)

            // Workers never talk to devices directly.
            for topic in ["devices/device-a/replies/echo", "devices/device-a/requests/echo"] {
                #expect(try await worker.publish(topic, payload: Data("x".utf8)).reasonCode == 135, "\(topic)")
            }
            // The bridge writes every device's replies (and relies on its own confinement).
            let device = try await secure.client("device-a")
            let deviceInbox = MessageInbox.draining(device)
            try await device.subscribe("devices/device-a/replies/#")
            try await bridge.publish("devices/device-a/replies/echo", payload: Data("pong".utf8))
            #expect(try await deviceInbox.first(on: "devices/device-a/replies/echo").payload == Data("pong".utf8))
        }
    }

    @Test("clients without an account or with a wrong password are refused", arguments: [nil, "wrong"] as [String?])
    func everyClientMustAuthenticate(password: String?) async throws {
        try await SecureBroker.with { secure in
            let intruder = secure.broker.makeClient("intruder") {
                $0.usesTLS = true
                $0.tls = MQTTConfiguration.TLS(caFile: secure.certs.caFile)
                $0.username = password == nil ? nil : "device-a"
                $0.password = password
                $0.reconnectDelay = 0...0
            }
            await #expect(throws: MQTTError.self) { try await intruder.connect() }
            await intruder.shutdown()
        }
    }

    // MARK: The shipped files as they are

    @Test("Config/mosquitto.conf starts as shipped and serves anonymous loopback clients")
    func theDevelopmentConfigurationStarts() async throws {
        let port = try FreePort.allocate()
        let directory = try temporaryDirectory("courier-devconf")
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = try ShippedConfig.rewrite("mosquitto.conf", [
            "listener": "\(port) 127.0.0.1",
            "persistence_location": directory.appendingPathComponent("data").path + "/",
        ])
        #expect(text.contains("allow_anonymous true") && text.contains("persistence true"))
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        try await StandaloneMosquitto.run(config: text, port: port, directory: directory) {
            var configuration = MQTTConfiguration(host: "127.0.0.1", port: port, clientID: MQTTConfiguration.uniqueClientID(prefix: "dev"))
            configuration.reconnectDelay = 1...1
            let client = MQTTClient(configuration: configuration, logger: .test("dev"))
            try await withTimeout(.seconds(10), "connect") { try await client.connect() }
            let inbox = MessageInbox.draining(client)
            try await client.subscribe("devices/dev-1/replies/#")
            try await client.publish("devices/dev-1/replies/echo", payload: Data("hi".utf8))
            #expect(try await inbox.first(on: "devices/dev-1/replies/echo").payload == Data("hi".utf8))
            await client.shutdown()
        }
        // persistence_location is honoured: the database is written on shutdown.
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("data/mosquitto.db").path))
    }

    @Test("Config/mosquitto-secure.conf starts as shipped, with TLS and accounts only")
    func theSecureConfigurationStarts() async throws {
        let port = try FreePort.allocate()
        let directory = try temporaryDirectory("courier-secureconf")
        defer { try? FileManager.default.removeItem(at: directory) }
        let certs = try await TestCertificates.generate()
        defer { try? FileManager.default.removeItem(at: certs.directory) }
        let passwords = try await makePasswordFile(in: directory, accounts: ["courier-bridge"])
        let text = try ShippedConfig.rewriteSecure(listener: "\(port) 127.0.0.1", certs: certs, directory: directory)
        try await StandaloneMosquitto.run(config: text, port: port, directory: directory) {
            func client(_ password: String?) -> MQTTClient {
                var configuration = MQTTConfiguration(host: "127.0.0.1", port: port, clientID: MQTTConfiguration.uniqueClientID(prefix: "secure"), usesTLS: true)
                configuration.tls = .init(caFile: certs.caFile)
                configuration.username = password == nil ? nil : "courier-bridge"
                configuration.password = password
                configuration.reconnectDelay = 0...0
                return MQTTClient(configuration: configuration, logger: .test("secure"))
            }
            let anonymous = client(nil)
            await #expect(throws: MQTTError.self) { try await anonymous.connect() }
            await anonymous.shutdown()
            let bridge = client(passwords["courier-bridge"])
            try await withTimeout(.seconds(10), "connect") { try await bridge.connect() }
            #expect(try await bridge.publish("courier/work/echo", payload: Data("x".utf8)).reasonCode != 135)
            await bridge.shutdown()
        }
    }
}

// MARK: - Fixtures

/// A broker running the shipped `Config/mosquitto-secure.conf` and `Config/mosquitto.acl`, with
/// test certificates and a fresh password file for the bridge, a worker and two devices.
private final class SecureBroker: Sendable {
    static let accounts = ["courier-bridge", "courier-worker", "device-a", "device-b"]

    let broker: MosquittoBroker
    let certs: TestCertificates
    let passwords: [String: String]
    private let clients = Mutex<[MQTTClient]>([])

    private init(broker: MosquittoBroker, certs: TestCertificates, passwords: [String: String]) {
        self.broker = broker
        self.certs = certs
        self.passwords = passwords
    }

    /// Runs `body` with a fresh secure broker; shuts down every client and the broker afterwards.
    static func with(_ body: (SecureBroker) async throws -> Void) async throws {
        let directory = try temporaryDirectory("courier-secure")
        let certs = try await TestCertificates.generate()
        defer {
            try? FileManager.default.removeItem(at: directory)
            try? FileManager.default.removeItem(at: certs.directory)
        }
        let passwords = try await makePasswordFile(in: directory, accounts: accounts)
        let config = try ShippedConfig.rewriteSecure(listener: "{PORT} 127.0.0.1", certs: certs, directory: directory, persistence: false)
        let broker = try await MosquittoBroker.start(extraConfig: config, listener: false)
        let secure = SecureBroker(broker: broker, certs: certs, passwords: passwords)
        do {
            try await body(secure)
        } catch {
            Issue.record("broker log:\n\(broker.log)")
            await secure.close()
            throw error
        }
        await secure.close()
    }

    /// A client logged in as `account` over TLS, connected.
    func client(
        _ account: String,
        protocolVersion: MQTTProtocolVersion = .v5,
        configure: (inout MQTTConfiguration) -> Void = { _ in }
    ) async throws -> MQTTClient {
        let client = broker.makeClient(account, protocolVersion: protocolVersion) {
            $0.usesTLS = true
            $0.tls = MQTTConfiguration.TLS(caFile: certs.caFile)
            $0.username = account
            $0.password = passwords[account]
            configure(&$0)
        }
        clients.withLock { $0.append(client) }
        try await withTimeout(.seconds(10), "connect \(account)") { try await client.connect() }
        return client
    }

    private func close() async {
        for client in clients.withLock({ $0 }) { await client.shutdown() }
        await broker.stopAndRemove()
    }
}

/// The shipped configuration files, with their machine-specific lines replaced.
enum ShippedConfig {
    /// The repository's `Config/` directory, found from this file.
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Config")

    /// `Config/<name>` with the value of every `key value` line whose key is in `replacements`
    /// replaced and the lines whose key is in `dropping` left out; each key must occur.
    /// Relative paths in the shipped files resolve against the repository root, so every
    /// path-valued key must be replaced (or dropped) for a broker run elsewhere.
    static func rewrite(_ name: String, _ replacements: [String: String], dropping: Set<String> = []) throws -> String {
        let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        var seen: Set<String> = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line -> String? in
            guard let key = line.split(separator: " ", maxSplits: 1).first.map(String.init) else { return String(line) }
            if dropping.contains(key) {
                seen.insert(key)
                return nil
            }
            guard let value = replacements[key] else { return String(line) }
            seen.insert(key)
            return "\(key) \(value)"
        }
        let missing = Set(replacements.keys).union(dropping).subtracting(seen)
        guard missing.isEmpty else { throw FixtureError.commandFailed("\(name) has no \(missing.sorted()) line") }
        let pathKeys: Set<String> = ["cafile", "capath", "certfile", "keyfile", "password_file", "acl_file", "persistence_location", "pid_file", "include_dir"]
        for line in lines {
            guard let key = line.split(separator: " ").first.map(String.init), pathKeys.contains(key) else { continue }
            guard replacements[key] != nil || dropping.contains(key) else { throw FixtureError.commandFailed("\(name): \(key) is not rewritten for the test") }
        }
        return lines.joined(separator: "\n")
    }

    /// `Config/mosquitto-secure.conf` with test certificates, a password file in `directory` and
    /// the shipped ACL. The database goes to `directory/data/`, or, with `persistence: false`,
    /// wherever the ``MosquittoBroker`` lines that come before it say (mosquitto refuses a
    /// second `persistence_location`).
    static func rewriteSecure(listener: String, certs: TestCertificates, directory: URL, persistence: Bool = true) throws -> String {
        try rewriteSecure(
            listener: listener,
            caFile: certs.caFile,
            certFile: certs.serverCertFile,
            keyFile: certs.serverKeyFile,
            passwordFile: directory.appendingPathComponent("passwd").path,
            directory: directory,
            persistence: persistence
        )
    }

    /// `Config/mosquitto-secure.conf` with the given CA, server certificate and key and password
    /// file (such as `Scripts/make-dev-secrets.sh --dir` makes) and the shipped ACL.
    static func rewriteSecure(
        listener: String,
        caFile: String,
        certFile: String,
        keyFile: String,
        passwordFile: String,
        directory: URL,
        persistence: Bool = true
    ) throws -> String {
        let data = directory.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        var replacements = [
            "listener": listener,
            "cafile": caFile,
            "certfile": certFile,
            "keyfile": keyFile,
            "password_file": passwordFile,
            "acl_file": Self.directory.appendingPathComponent("mosquitto.acl").path,
        ]
        if persistence { replacements["persistence_location"] = data.path + "/" }
        return try rewrite("mosquitto-secure.conf", replacements, dropping: persistence ? [] : ["persistence", "persistence_location"])
    }
}

/// `mosquitto -c FILE` with nothing else added (but `user`): proves a configuration works as it is.
private enum StandaloneMosquitto {
    static func run(config: String, port: Int, directory: URL, _ body: () async throws -> Void) async throws {
        let file = directory.appendingPathComponent("mosquitto.conf")
        let logFile = directory.appendingPathComponent("mosquitto.log")
        // Started as root, mosquitto would drop to the `mosquitto` user and lose access to the
        // test's files; naming the current user keeps it as it is.
        try (config + "\nuser \(NSUserName())\n").write(to: file, atomically: true, encoding: .utf8)
        let process = ProcessBox()
        try process.start(executable: "mosquitto", arguments: ["-c", file.path], output: logFile)
        let log = { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }
        do {
            try await eventually("mosquitto -c \(file.lastPathComponent) listening on \(port)") {
                guard process.isRunning else { throw FixtureError.brokerDidNotStart(log()) }
                return FreePort.accepts(port: port)
            }
            try await body()
        } catch {
            await process.terminateAndWait(signal: SIGTERM)
            Issue.record("mosquitto log:\n\(log())")
            throw error
        }
        let status = await process.terminateAndWait(signal: SIGTERM)
        #expect(status == 0, "mosquitto exit status \(String(describing: status)):\n\(log())")
        // The readiness probe's bare TCP connect to a TLS port logs an OpenSSL EOF; nothing else may fail.
        let errors = log().split(separator: "\n").filter { $0.contains("Error") && !$0.contains("OpenSSL Error") }
        #expect(errors.isEmpty, "\(log())")
    }
}

/// A password file `passwd` in `directory` made with `mosquitto_passwd`, one random password per
/// account; returns the passwords.
private func makePasswordFile(in directory: URL, accounts: [String]) async throws -> [String: String] {
    let file = directory.appendingPathComponent("passwd").path
    var passwords: [String: String] = [:]
    for (index, account) in accounts.enumerated() {
        let password = UUID().uuidString
        passwords[account] = password
        let arguments = (index == 0 ? ["-b", "-c"] : ["-b"]) + [file, account, password]
        let made = try await Command.run("mosquitto_passwd", arguments)
        guard made.status == 0 else { throw FixtureError.commandFailed("mosquitto_passwd: \(made.stderr)") }
    }
    return passwords
}

func temporaryDirectory(_ prefix: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}
