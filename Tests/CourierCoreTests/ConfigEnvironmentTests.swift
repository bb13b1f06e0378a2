import CourierCore
import Foundation
import Testing

@testable import CourierConfig

@Suite(.timeLimit(.minutes(1)))
final class ConfigEnvironmentTests {
    private let files = TemporaryFiles()

    @Test func everyVariableOverridesTheFile() throws {
        let environment = [
            "COURIER_BROKER_URL": "mqtts://broker.example.com:8883",
            "COURIER_BROKER_USERNAME": "bridge",
            "COURIER_BROKER_PASSWORD_FILE": "/run/secrets/bridge.pass",
            "COURIER_BROKER_TLS_CA_FILE": "/etc/courier/ca.crt",
            "COURIER_BROKER_TLS_CERT_FILE": "/etc/courier/bridge.crt",
            "COURIER_BROKER_TLS_KEY_FILE": "/etc/courier/bridge.key",
            "COURIER_BRIDGE_ID": "bridge-9",
            "COURIER_STORE_PATH": "/tmp/courier.sqlite",
            "COURIER_STORE_RETENTION": "30s",
            "COURIER_STORE_DEAD_LETTER_RETENTION": "2d",
            "COURIER_HTTP_ADDRESS": "0.0.0.0:9000",
            "COURIER_HTTP_TOKENS_FILE": "/etc/courier/http.tokens",
            "COURIER_LOG_LEVEL": "debug",
            "COURIER_MAX_PENDING_PER_DEVICE": "5",
            "COURIER_MAX_PENDING_TOTAL": "500",
            "COURIER_MAX_CORRELATION_DATA_BYTES": "32",
            "COURIER_REPLY_QOS": "0",
            "COURIER_WORKER_CONCURRENCY": "16",
            "COURIER_WORKER_OPERATIONS": " echo , telemetry.summary,",
            "COURIER_WORKER_ID": "worker-b",
        ]
        // Every variable but COURIER_BROKER_PASSWORD and COURIER_STORE_URL, which cannot be set
        // with COURIER_BROKER_PASSWORD_FILE and COURIER_STORE_PATH (StoreURLTests has it).
        #expect(Set(environment.keys).union(["COURIER_BROKER_PASSWORD", "COURIER_STORE_URL"]) == Set(EnvironmentOverride.all.map(\.name)))
        let config = try ConfigLoader.load(path: shippedConfigPath, environment: environment)
        #expect(config.broker.url == "mqtts://broker.example.com:8883")
        #expect(config.broker.username == "bridge")
        #expect(config.broker.passwordFile == "/run/secrets/bridge.pass")
        #expect(config.broker.tls == .init(caFile: "/etc/courier/ca.crt", certFile: "/etc/courier/bridge.crt", keyFile: "/etc/courier/bridge.key"))
        #expect(config.bridgeID == "bridge-9")
        #expect(config.store.path == "/tmp/courier.sqlite")
        #expect(config.store.retention == .seconds(30))
        #expect(config.store.deadLetterRetention == .seconds(2 * 86_400))
        #expect(config.httpAddress == "0.0.0.0:9000")
        #expect(config.httpTokensFile == "/etc/courier/http.tokens")
        #expect(config.logLevel == "debug")
        #expect(config.limits.maxPendingPerDevice == 5)
        #expect(config.limits.maxPendingTotal == 500)
        #expect(config.limits.maxCorrelationDataBytes == 32)
        #expect(config.replyQoS == 0)
        #expect(config.workers.concurrency == 16)
        #expect(config.workers.operations == ["echo", "telemetry.summary"])
        #expect(config.workers.id == "worker-b")
        // Untouched by the environment: as in the file.
        #expect(config.operations.map(\.name) == ["echo", "telemetry.summary", "telemetry.anomalies"])
    }

    @Test func noFileMeansDefaultsPlusEnvironment() throws {
        #expect(try ConfigLoader.load(path: nil, environment: [:]) == CourierConfiguration())
        let config = try ConfigLoader.load(path: nil, environment: ["COURIER_BRIDGE_ID": "b2", "PATH": "/bin"])
        #expect(config == CourierConfiguration().with { $0.bridgeID = "b2" })
    }

    @Test func emptyValuesAreIgnored() throws {
        let config = try ConfigLoader.load(
            path: nil, environment: ["COURIER_BROKER_URL": "", "COURIER_WORKER_CONCURRENCY": ""])
        #expect(config == CourierConfiguration())
    }

    @Test func environmentPasswordReplacesAFilePassword() throws {
        let file = "broker:\n  username: u\n  passwordFile: secret.pass\n"
        var config = try ConfigLoader.parse(yaml: file, file: "c.yaml")
        try ConfigLoader.applyEnvironment(["COURIER_BROKER_PASSWORD": "s3cret"], to: &config)
        #expect(config.broker.password == "s3cret")
        #expect(config.broker.passwordFile == nil)
        #expect(try ConfigLoader.readPassword(config) == "s3cret")

        var other = try ConfigLoader.parse(yaml: "broker:\n  password: p\n", file: "c.yaml")
        try ConfigLoader.applyEnvironment(["COURIER_BROKER_PASSWORD_FILE": "f.pass"], to: &other)
        #expect(other.broker.password == nil)
        #expect(other.broker.passwordFile == "f.pass")
    }

    @Test(arguments: [
        ("COURIER_BROKER_URL", "tcp://127.0.0.1:1883", #""tcp://127.0.0.1:1883" must start with mqtt:// or mqtts://"#),
        ("COURIER_BRIDGE_ID", "bridge/1", #""bridge/1" is not a valid name"#),
        ("COURIER_STORE_RETENTION", "ten minutes", #""ten minutes" is not a duration (write 500ms, 10s, 2m or 1h)"#),
        ("COURIER_HTTP_ADDRESS", "8080", #""8080" has no port"#),
        ("COURIER_LOG_LEVEL", "loud", #""loud" is not a log level"#),
        ("COURIER_MAX_PENDING_PER_DEVICE", "many", #"expected a whole number, found "many""#),
        ("COURIER_MAX_PENDING_TOTAL", "0", "must be at least 1, found 0"),
        ("COURIER_WORKER_CONCURRENCY", "-2", "must be between 1 and 65535, found -2"),
        ("COURIER_REPLY_QOS", "2", "must be between 0 and 1, found 2"),
        ("COURIER_MAX_CORRELATION_DATA_BYTES", "0", "must be between 1 and 65535, found 0"),
        ("COURIER_WORKER_OPERATIONS", "echo,telemetry.summ", #""telemetry.summ" is not a configured operation"#),
        ("COURIER_WORKER_OPERATIONS", "echo,echo", #""echo" is listed twice"#),
        ("COURIER_WORKER_OPERATIONS", "echo,a b", #""a b" is not a valid name"#),
        ("COURIER_WORKER_ID", "w#1", #""w#1" is not a valid name"#),
    ])
    func badValueNamesTheVariable(_ name: String, _ value: String, _ message: String) throws {
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.load(path: shippedConfigPath, environment: [name: value])
        }
        #expect(error.key == name)
        #expect(error.file == nil)
        #expect(error.message.hasPrefix(message), "\(error)")
        #expect(error.description.hasPrefix("\(name): "))
    }

    @Test func passwordAndPasswordFileTogetherAreRefused() throws {
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.load(
                path: nil, environment: ["COURIER_BROKER_PASSWORD": "p", "COURIER_BROKER_PASSWORD_FILE": "f"])
        }
        #expect(error.key == "COURIER_BROKER_PASSWORD_FILE")
    }

    @Test func workerOperationsAreCheckedAgainstTheFile() throws {
        let yaml = "operations:\n  - name: only\n"
        let path = try files.file("courier.yaml", contents: yaml)
        let config = try ConfigLoader.load(path: path, environment: ["COURIER_WORKER_OPERATIONS": "only"])
        #expect(config.workers.operations == ["only"])
        #expect(throws: ConfigError.self) {
            try ConfigLoader.load(path: path, environment: ["COURIER_WORKER_OPERATIONS": "echo"])
        }
    }
}

@Suite(.timeLimit(.minutes(1)))
final class ReadPasswordTests {
    private let files = TemporaryFiles()

    @Test func noPassword() throws {
        #expect(try ConfigLoader.readPassword(CourierConfiguration()) == nil)
    }

    @Test func passwordIsUsedAsWritten() throws {
        let config = CourierConfiguration().with { $0.broker.password = " p w " }
        #expect(try ConfigLoader.readPassword(config) == " p w ")
    }

    @Test func passwordFileFirstLineTrimmed() throws {
        let path = try files.file("bridge.pass", contents: "  s3cret \t\nsecond line\n")
        let config = CourierConfiguration().with { $0.broker.passwordFile = path }
        #expect(try ConfigLoader.readPassword(config) == "s3cret")
    }

    @Test func passwordFileWithoutNewline() throws {
        let path = try files.file("bridge.pass", contents: "only")
        #expect(try ConfigLoader.readPassword(CourierConfiguration().with { $0.broker.passwordFile = path }) == "only")
    }

    @Test func emptyPasswordFileIsAnError() throws {
        let path = try files.file("bridge.pass", contents: "\nsecond\n")
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.readPassword(CourierConfiguration().with { $0.broker.passwordFile = path })
        }
        #expect(error.key == "broker.passwordFile")
        #expect(error.message.contains("is empty"))
    }

    @Test func missingPasswordFileIsAnError() throws {
        let config = CourierConfiguration().with { $0.broker.passwordFile = "/nonexistent/bridge.pass" }
        let error = try #require(throws: ConfigError.self) { try ConfigLoader.readPassword(config) }
        #expect(error.description == #"broker.passwordFile: cannot read "/nonexistent/bridge.pass": no such file"#)
    }
}

/// Temporary files for one test, deleted with it: a suite class holds one, so `deinit` runs
/// when the test ends. Each file is in a fresh directory of its own.
final class TemporaryFiles {
    private let root = FileManager.default.temporaryDirectory.appendingPathComponent("courier-tests-\(UUID().uuidString)")

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    /// Writes a file named `name` in a fresh directory and returns its path.
    func file(_ name: String, contents: String) throws -> String {
        let directory = root.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
