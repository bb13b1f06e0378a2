import CourierTesting
import Foundation
import MQTT
import Synchronization
import Testing

/// Courier's own daemons on the production-shaped broker, set up as the docs say:
/// `Scripts/make-dev-secrets.sh` makes the CA, the broker certificate and the accounts; mosquitto
/// runs the shipped `Config/mosquitto-secure.conf` and `Config/mosquitto.acl` with them (TLS only,
/// no anonymous clients); `courier bridge` and `courier worker` connect to `mqtts://` with their
/// own accounts, a `broker.passwordFile` and `broker.tls.caFile`, and so does every device.
@Suite(.timeLimit(.minutes(2)))
struct SecureDaemonTests {
    @Test("bridge and worker daemons log in over TLS with their own accounts and answer a device")
    func daemonsAnswerADeviceOverTLS() async throws {
        try await SecureDeployment.with { deployment in
            try await deployment.startDaemons()
            // mosquitto names the account each client authenticated as: every daemon its own.
            let log = deployment.broker.log
            #expect(log.contains("as courier-bridge-secure-1 (") && log.contains("u'courier-bridge')"), "\(log)")
            #expect(log.contains("u'courier-worker')"), "\(log)")

            let device = try await deployment.device("device-1")
            #expect(device.client.configuration.usesTLS)
            try await device.ask("echo", Data("hello over TLS".utf8), correlation: "tls-1")
            let reply = try await device.reply(to: "tls-1")
            #expect(reply.topic == device.replyTopic)
            #expect(reply.status == 200, "\(reply.properties.userProperties)")
            #expect(reply.text == "hello over TLS")
        }
    }

    @Test("through the daemons, a device can neither request as another device nor read its replies")
    func aDeviceStaysInItsOwnNamespace() async throws {
        try await SecureDeployment.with { deployment in
            try await deployment.startDaemons()
            // Sees every request the broker lets through, in the order each device sent them.
            let watch = try await deployment.client("courier-bridge")
            let requests = MessageInbox.draining(watch)
            try await watch.subscribe("devices/+/requests/#")

            let deviceA = try await deployment.device("device-1")
            let deviceB = try await deployment.device("device-2")
            // mosquitto 2.0 grants these and filters at delivery; a refusal would do as well.
            for filter in ["devices/device-2/replies/#", "devices/+/replies/#", "#"] {
                do {
                    try await deviceA.client.subscribe(filter)
                } catch MQTTError.subscriptionRefused {}
            }

            // device-1 forges a request in device-2's name, with a reply to device-2's namespace.
            let forged = try await deviceA.client.publish(
                "devices/device-2/requests/echo",
                payload: Data("forged".utf8),
                properties: .init(responseTopic: deviceB.replyTopic, correlationData: Data("forged".utf8))
            )
            #expect(forged.reasonCode == 135, "MQTT 5 PUBACK: not authorised")

            // device-2 asks, and the bridge answers it on device-2's reply topic...
            try await deviceB.ask("echo", Data("for device-2 only".utf8), correlation: "b-1")
            let replyB = try await deviceB.reply(to: "b-1")
            #expect(replyB.status == 200 && replyB.text == "for device-2 only")
            // ...then device-1 asks. The bridge published device-2's reply before this one, and a
            // subscriber gets one publisher's messages in order: once device-1 has its own reply,
            // it would already hold device-2's if the broker had let it through.
            try await deviceA.ask("echo", Data("for device-1".utf8), correlation: "a-1")
            let replyA = try await deviceA.reply(to: "a-1")
            #expect(replyA.status == 200 && replyA.text == "for device-1")

            #expect(deviceA.replies.all.allSatisfy { $0.topic.hasPrefix("devices/device-1/") }, "\(deviceA.replies.all.map(\.topic))")
            #expect(!deviceA.replies.all.contains { $0.payload == Data("for device-2 only".utf8) }, "device-1 read device-2's reply")
            // device-1's forged request came before its own one, so it would be in by now too.
            try await requests.wait { $0.payload == Data("for device-1".utf8) }
            #expect(!requests.all.contains { $0.payload == Data("forged".utf8) }, "device-1 injected a request as device-2")
            #expect(requests.on("devices/device-2/requests/echo").map(\.payload) == [Data("for device-2 only".utf8)])
            #expect(deviceB.replies.all.map(\.properties.correlationData) == [Data("b-1".utf8)])
        }
    }

    @Test("a daemon with a wrong password is refused by the broker and exits saying so", arguments: ["bridge", "worker"])
    func aWrongPasswordIsRefused(command: String) async throws {
        try await SecureDeployment.with { deployment in
            let wrong = deployment.directory.appendingPathComponent("wrong.pass")
            try "not-the-password\n".write(to: wrong, atomically: true, encoding: .utf8)
            let account = command == "bridge" ? "courier-bridge" : "courier-worker"
            // Right account, right CA, wrong password: the daemon must not keep running as if
            // nothing were amiss (libmosquitto does not retry a refused CONNECT).
            let run = try await Command.run(
                CourierDaemon.binary,
                [command, "--config", deployment.configPath, "--username", account, "--password-file", wrong.path],
                timeout: .seconds(30)
            )
            let output = run.stdout + run.stderr
            #expect(run.status != 0, "\(output)")
            // CONNACK reason 135, "Not authorized", in the error it exits with.
            #expect(output.contains("refused the connection") && output.lowercased().contains("not authorized (reason 135)"), "\(output)")
            #expect(!output.contains("\(command) started"), "\(output)")
            // The broker is what refused it.
            try await eventually("mosquitto logs the refusal") { deployment.broker.log.contains("disconnected, not authorised") }
        }
    }

    @Test("the device simulator logs each device in as itself with --password-dir")
    func theSimulatorUsesEachDevicesOwnAccount() async throws {
        try await SecureDeployment.with { deployment in
            try await deployment.startDaemons()
            let profile = deployment.directory.appendingPathComponent("secure-devices.yaml")
            try """
                name: secure-devices
                protocol: mqtt5
                devices: { count: 3, idPrefix: device }
                operations:
                  - operation: echo
                    payload: { echo: { bytes: 16 } }
                mode:
                  closed: { outstanding: 1 }
                requestsPerDevice: 4
                timeout: 10s
                """.write(to: profile, atomically: true, encoding: .utf8)
            let run = try await Command.run(
                CourierDaemon.binary,
                ["devices", "--profile", profile.path, "--broker", "mqtts://127.0.0.1:\(deployment.broker.port)",
                 "--ca-file", deployment.caFile, "--password-dir", deployment.secrets.path, "--json"]
            )
            #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
            // JSON Lines: the summary comes last.
            let last = run.stdout.split(separator: "\n").last.map { Data($0.utf8) } ?? Data()
            let report = (try JSONSerialization.jsonObject(with: last) as? [String: Any])?["summary"] as? [String: Any]
            #expect(report?["replies"] as? [String: Int] == ["200": 12], "\(run.stdout)")
            // Each as its own account: the ACL would refuse any other.
            for device in ["device-1", "device-2", "device-3"] {
                #expect(deployment.broker.log.contains("u'\(device)')"), "\(device) did not log in as itself")
            }
        }
    }

    @Test("make-dev-secrets.sh --dir keeps what it made when run again, and adds device accounts")
    func theSecretsScriptIsIdempotent() async throws {
        let directory = try temporaryDirectory("courier-secrets")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try await SecureDeployment.makeSecrets(in: directory)
        #expect(first.contains("made:"), "\(first)")
        let secrets = directory.appendingPathComponent("secrets")
        let ca = try Data(contentsOf: directory.appendingPathComponent("certs/ca.crt"))
        let password = try String(contentsOf: secrets.appendingPathComponent("device-1.pass"), encoding: .utf8)

        let second = try await SecureDeployment.makeSecrets(in: directory, devices: ["pump.2"])
        #expect(try Data(contentsOf: directory.appendingPathComponent("certs/ca.crt")) == ca)
        #expect(try String(contentsOf: secrets.appendingPathComponent("device-1.pass"), encoding: .utf8) == password)
        let accounts = try String(contentsOf: secrets.appendingPathComponent("passwd"), encoding: .utf8)
            .split(separator: "\n").compactMap { $0.split(separator: ":").first.map(String.init) }
        #expect(accounts.sorted() == ["courier-bridge", "courier-worker", "device-1", "device-2", "device-3", "pump.2"])
        // Into the directory given, not the repository's Config/.
        #expect(second.contains(secrets.appendingPathComponent("pump.2.pass").path), "\(second)")
    }
}

// MARK: - Fixture

/// `Scripts/make-dev-secrets.sh --dir` run into a temporary directory, mosquitto running the
/// shipped secure configuration with what it made on a free loopback port, and a Courier
/// configuration for it: `mqtts://`, the bridge's account with a password file, the script's CA.
final class SecureDeployment: Sendable {
    let directory: URL
    let broker: MosquittoBroker
    let configPath: String
    private let clients = Mutex<[MQTTClient]>([])
    private let daemons = Mutex<[CourierDaemon]>([])

    /// The script's certificates (`ca.crt`, `server.crt`, `server.key`).
    var certs: URL { directory.appendingPathComponent("certs") }
    /// The script's accounts: `passwd` and `<account>.pass`.
    var secrets: URL { directory.appendingPathComponent("secrets") }
    var caFile: String { certs.appendingPathComponent("ca.crt").path }

    private init(directory: URL, broker: MosquittoBroker, configPath: String) {
        self.directory = directory
        self.broker = broker
        self.configPath = configPath
    }

    static let script = ShippedConfig.directory.deletingLastPathComponent().appendingPathComponent("Scripts/make-dev-secrets.sh").path

    /// Runs the script into `directory`; returns what it printed.
    @discardableResult
    static func makeSecrets(in directory: URL, devices: [String] = []) async throws -> String {
        let run = try await Command.run(script, ["--dir", directory.path] + devices)
        guard run.status == 0 else { throw FixtureError.commandFailed("make-dev-secrets.sh: \(run.stdout)\(run.stderr)") }
        return run.stdout
    }

    /// Runs `body` with a fresh deployment; stops every daemon, client and the broker afterwards.
    static func with(_ body: (SecureDeployment) async throws -> Void) async throws {
        let directory = try temporaryDirectory("courier-secure-daemons")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await makeSecrets(in: directory)
        let certs = directory.appendingPathComponent("certs"), secrets = directory.appendingPathComponent("secrets")
        let config = try ShippedConfig.rewriteSecure(
            listener: "{PORT} 127.0.0.1",
            caFile: certs.appendingPathComponent("ca.crt").path,
            certFile: certs.appendingPathComponent("server.crt").path,
            keyFile: certs.appendingPathComponent("server.key").path,
            passwordFile: secrets.appendingPathComponent("passwd").path,
            directory: directory,
            persistence: false
        )
        let broker = try await MosquittoBroker.start(extraConfig: config, listener: false)
        // As Config/mosquitto-secure.conf's header says Courier connects, with absolute paths
        // (relative ones resolve against the daemon's working directory).
        let yaml = """
            broker:
              url: mqtts://127.0.0.1:\(broker.port)
              username: courier-bridge
              passwordFile: \(secrets.appendingPathComponent("courier-bridge.pass").path)
              tls:
                caFile: \(certs.appendingPathComponent("ca.crt").path)
            bridge:
              id: secure-1
            store:
              path: \(directory.appendingPathComponent("courier.sqlite").path)
            http:
              address: 127.0.0.1:0
            operations:
              - name: echo
                timeout: 10s
                attemptTimeout: 3s
            workers:
              concurrency: 2
              operations: [echo]
            """
        let configPath = directory.appendingPathComponent("courier.yaml").path
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)

        let deployment = SecureDeployment(directory: directory, broker: broker, configPath: configPath)
        do {
            try await body(deployment)
        } catch {
            for daemon in deployment.daemons.withLock({ $0 }) { Issue.record("courier \(daemon.arguments.first ?? "") log:\n\(daemon.log)") }
            Issue.record("broker log:\n\(broker.log)")
            await deployment.close()
            throw error
        }
        await deployment.close()
    }

    /// Starts `courier worker` as `courier-worker` (the flags override the file's bridge account;
    /// `worker.pass` is the script's link to `courier-worker.pass`), then `courier bridge` with
    /// the file as it is. The worker goes first, so that its retained presence is there when the
    /// bridge subscribes to presence.
    func startDaemons() async throws {
        let workerPassword = secrets.appendingPathComponent("worker.pass").path
        try await start(["worker", "--config", configPath, "--worker-id", "secure-worker", "--username", "courier-worker", "--password-file", workerPassword], readyLine: "worker started")
        try await start(["bridge", "--config", configPath], readyLine: "bridge started")
    }

    @discardableResult
    func start(_ arguments: [String], readyLine: String) async throws -> CourierDaemon {
        let daemon = try await CourierDaemon.start(arguments, readyLine: readyLine, directory: directory.appendingPathComponent("daemons"))
        daemons.withLock { $0.append(daemon) }
        return daemon
    }

    /// The password the script made for `account`.
    func password(_ account: String) throws -> String {
        try String(contentsOf: secrets.appendingPathComponent("\(account).pass"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A client logged in as `account` over TLS, verifying the broker with the script's CA; connected.
    func client(_ account: String, configure: (inout MQTTConfiguration) -> Void = { _ in }) async throws -> MQTTClient {
        let password = try password(account)
        let client = broker.makeClient(account) {
            $0.usesTLS = true
            $0.tls = MQTTConfiguration.TLS(caFile: caFile)
            $0.username = account
            $0.password = password
            configure(&$0)
        }
        clients.withLock { $0.append(client) }
        try await withTimeout(.seconds(10), "connect \(account)") { try await client.connect() }
        return client
    }

    /// A device logged in with its own account, subscribed to its own replies.
    func device(_ id: String) async throws -> Device {
        let client = try await client(id)
        let replies = MessageInbox.draining(client)
        try await client.subscribe("devices/\(id)/replies/#")
        return Device(id: id, client: client, replies: replies)
    }

    private func close() async {
        for client in clients.withLock({ $0 }) { await client.shutdown() }
        for daemon in daemons.withLock({ $0 }).reversed() { await daemon.stop() }
        await broker.stopAndRemove()
    }
}
