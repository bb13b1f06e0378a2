import CourierConfig
import CourierCore
import Foundation
import Testing

/// The repository's `Config/courier.yaml`, found from this file's path.
let shippedConfigPath = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .deletingLastPathComponent()
    .deletingLastPathComponent()
    .appendingPathComponent("Config/courier.yaml")
    .path

@Suite(.timeLimit(.minutes(1)))
struct ConfigLoaderTests {
    @Test func shippedConfigurationParses() throws {
        let config = try ConfigLoader.load(path: shippedConfigPath, environment: [:])
        #expect(config.broker.url == "mqtt://127.0.0.1:1883")
        #expect(config.broker.username == nil)
        #expect(config.broker.password == nil)
        #expect(config.broker.passwordFile == nil)
        #expect(config.broker.tls == nil)
        #expect(config.bridgeID == "bridge-1")
        #expect(config.store.path == ".courier/courier.sqlite")
        #expect(config.store.retention == .seconds(600))
        #expect(config.httpAddress == "127.0.0.1:8080")
        #expect(config.limits.maxPendingPerDevice == 32)
        #expect(config.limits.maxPendingTotal == 100_000)
        #expect(config.limits.maxCorrelationDataBytes == 64)
        #expect(config.operations.map(\.name) == ["echo", "telemetry.summary", "telemetry.anomalies"])
        let echo = try #require(config.operation(named: "echo"))
        #expect(echo == OperationConfig(
            name: "echo", content: .any, timeout: .seconds(10), attemptTimeout: .seconds(3),
            maxAttempts: 3, maxPayloadBytes: 262_144, ack: false))
        let summary = try #require(config.operation(named: "telemetry.summary"))
        #expect(summary.content == .json)
        #expect(summary.timeout == .seconds(5))
        #expect(summary.attemptTimeout == .seconds(3))
        #expect(config.workers.concurrency == 8)
        #expect(config.workers.operations == ["echo", "telemetry.summary", "telemetry.anomalies"])
        #expect(config.workers.id == nil)
        #expect(config.replyQoS == 1)
        #expect(config.logLevel == "info")
        #expect(config.commands.map(\.name) == ["ping", "blink", "jam", "update"])
        #expect(config.command(named: "update")?.attemptTimeout == .seconds(10))
        // The shipped file states the defaults, and the commands the actuator profile answers.
        #expect(config == CourierConfiguration().with {
            $0.workers.operations = config.workers.operations
            $0.commands = config.commands
        })
    }

    @Test func emptyFileGivesDefaults() throws {
        #expect(try ConfigLoader.parse(yaml: "", file: "empty.yaml") == CourierConfiguration())
        #expect(try ConfigLoader.parse(yaml: "# nothing yet\n", file: "empty.yaml") == CourierConfiguration())
        #expect(try ConfigLoader.parse(yaml: "store:\n  # path: x\n", file: "s.yaml") == CourierConfiguration())
    }

    @Test func everyKeyIsRead() throws {
        let yaml = """
            broker:
              url: mqtts://broker.example.com:8883
              username: courier-bridge
              passwordFile: Config/secrets/bridge.pass
              tls: { caFile: ca.crt, certFile: client.crt, keyFile: client.key }
            bridge:
              id: bridge-7
            store:
              path: /var/lib/courier/db.sqlite
              retention: 1h
            http:
              address: 0.0.0.0:9090
            limits:
              maxPendingPerDevice: 4
              maxPendingTotal: 1_000
              maxCorrelationDataBytes: 32
            operations:
              - name: thermo.read
                content: json
                timeout: 2m
                attemptTimeout: 500ms
                maxAttempts: 5
                maxPayloadBytes: 1024
                ack: true
            workers:
              concurrency: 2
              operations: [thermo.read]
              id: worker-a
            replyQoS: 0
            log:
              level: debug
            """
        let config = try ConfigLoader.parse(yaml: yaml, file: "full.yaml")
        #expect(config.broker.url == "mqtts://broker.example.com:8883")
        #expect(config.broker.username == "courier-bridge")
        #expect(config.broker.passwordFile == "Config/secrets/bridge.pass")
        #expect(config.broker.tls == CourierConfiguration.TLS(caFile: "ca.crt", certFile: "client.crt", keyFile: "client.key"))
        #expect(config.bridgeID == "bridge-7")
        #expect(config.store.path == "/var/lib/courier/db.sqlite")
        #expect(config.store.retention == .seconds(3600))
        #expect(config.httpAddress == "0.0.0.0:9090")
        #expect(config.limits.maxPendingPerDevice == 4)
        #expect(config.limits.maxPendingTotal == 1000)
        #expect(config.limits.maxCorrelationDataBytes == 32)
        #expect(config.operations == [
            OperationConfig(
                name: "thermo.read", content: .json, timeout: .seconds(120), attemptTimeout: .milliseconds(500),
                maxAttempts: 5, maxPayloadBytes: 1024, ack: true)
        ])
        #expect(config.workers.concurrency == 2)
        #expect(config.workers.operations == ["thermo.read"])
        #expect(config.workers.id == "worker-a")
        #expect(config.replyQoS == 0)
        #expect(config.logLevel == "debug")
    }

    @Test func theDocumentedExampleMessage() throws {
        let yaml = """
            broker:
              url: mqtt://127.0.0.1:1883
            bridge:
              id: bridge-1
            store:
              path: .courier/courier.sqlite
            operations:
              - name: echo
                timeout: 10s
              - name: telemetry.summary
                content: json
                timeout: 5x
            """
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: yaml, file: "Config/courier.yaml")
        }
        #expect(error.line == 12)
        #expect(error.key == "operations[1].timeout")
        #expect(
            error.description
                == #"Config/courier.yaml:12: operations[1].timeout: "5x" is not a duration (write 500ms, 10s, 2m or 1h)"#
        )
    }

    struct BadFile: Sendable, CustomTestStringConvertible {
        var name: String
        var yaml: String
        var line: Int
        var key: String
        var message: String
        var testDescription: String { name }
    }

    static let badFiles: [BadFile] = [
        BadFile(name: "unknown section", yaml: "brokr:\n  url: mqtt://h:1\n", line: 1, key: "brokr",
                message: "unknown key (did you mean broker?)"),
        BadFile(name: "unknown key", yaml: "broker:\n  url: mqtt://h:1\n  usernme: a\n", line: 3,
                key: "broker.usernme", message: "unknown key (did you mean username?)"),
        BadFile(name: "unknown key, nothing close", yaml: "store:\n  colour: red\n", line: 2, key: "store.colour",
                message: "unknown key (keys here are path, url, retention, deadLetterRetention)"),
        BadFile(name: "unknown operation key", yaml: "operations:\n  - name: a\n    retries: 3\n", line: 3,
                key: "operations[0].retries", message: "unknown key"),
        BadFile(name: "section not a mapping", yaml: "limits: 5\n", line: 1, key: "limits",
                message: "expected a mapping with keys maxPendingPerDevice, maxPendingTotal, maxCorrelationDataBytes, found \"5\""),
        BadFile(name: "document not a mapping", yaml: "- a\n- b\n", line: 1, key: "",
                message: "expected a mapping with keys broker"),
        BadFile(name: "number is text", yaml: "limits:\n  maxPendingTotal: lots\n", line: 2,
                key: "limits.maxPendingTotal", message: "expected a whole number, found \"lots\""),
        BadFile(name: "number is fractional", yaml: "workers:\n  concurrency: 2.5\n", line: 2,
                key: "workers.concurrency", message: "expected a whole number, found \"2.5\""),
        BadFile(name: "zero concurrency", yaml: "workers:\n  concurrency: 0\n", line: 2,
                key: "workers.concurrency", message: "must be between 1 and 65535, found 0"),
        BadFile(name: "zero pending quota", yaml: "limits:\n  maxPendingPerDevice: 0\n", line: 2,
                key: "limits.maxPendingPerDevice", message: "must be at least 1, found 0"),
        BadFile(name: "bad duration", yaml: "store:\n  retention: 10 minutes\n", line: 2, key: "store.retention",
                message: "\"10 minutes\" is not a duration (write 500ms, 10s, 2m or 1h)"),
        BadFile(name: "duration without unit", yaml: "operations:\n  - name: a\n    timeout: 10\n", line: 3,
                key: "operations[0].timeout", message: "\"10\" is not a duration"),
        BadFile(name: "zero timeout", yaml: "operations:\n  - name: a\n    timeout: 0s\n", line: 3,
                key: "operations[0].timeout", message: "must be longer than 0, found \"0s\""),
        BadFile(name: "maxAttempts below 1", yaml: "operations:\n  - name: a\n    maxAttempts: 0\n", line: 3,
                key: "operations[0].maxAttempts", message: "must be between 1 and 1000, found 0"),
        BadFile(name: "attemptTimeout over timeout",
                yaml: "operations:\n  - name: a\n    timeout: 2s\n    attemptTimeout: 5s\n", line: 4,
                key: "operations[0].attemptTimeout", message: "5s is longer than the operation's timeout (2s)"),
        BadFile(name: "attemptTimeout over timeout, written first",
                yaml: "operations:\n  - name: a\n    attemptTimeout: 5s\n    timeout: 2s\n", line: 3,
                key: "operations[0].attemptTimeout", message: "5s is longer than the operation's timeout (2s)"),
        BadFile(name: "bad content", yaml: "operations:\n  - name: a\n  - name: b\n    content: xml\n", line: 4,
                key: "operations[1].content", message: "\"xml\" is not a content check (write any or json)"),
        BadFile(name: "name with a slash", yaml: "operations:\n  - name: a/b\n", line: 2, key: "operations[0].name",
                message: "\"a/b\" is not a valid name (1 to 64 of the characters A-Z a-z 0-9 _ . -)"),
        BadFile(name: "name with a space", yaml: "operations:\n  - name: \"a b\"\n", line: 2,
                key: "operations[0].name", message: "\"a b\" is not a valid name"),
        BadFile(name: "name too long", yaml: "operations:\n  - name: \(String(repeating: "x", count: 65))\n",
                line: 2, key: "operations[0].name", message: "is not a valid name"),
        BadFile(name: "missing name", yaml: "operations:\n  - timeout: 1s\n", line: 2, key: "operations[0]",
                message: "needs a name"),
        BadFile(name: "duplicate name",
                yaml: "operations:\n  - name: echo\n  - name: other\n  - name: echo\n    timeout: 1s\n", line: 4,
                key: "operations[2].name", message: "\"echo\" is already configured at operations[0]"),
        BadFile(name: "empty operations", yaml: "operations: []\n", line: 1, key: "operations",
                message: "must list at least one operation"),
        BadFile(name: "operations not a list", yaml: "operations:\n  name: echo\n", line: 1, key: "operations",
                message: "expected a list, found a mapping"),
        BadFile(name: "ack not a bool", yaml: "operations:\n  - name: a\n    ack: maybe\n", line: 3,
                key: "operations[0].ack", message: "expected true or false, found \"maybe\""),
        BadFile(name: "http broker url", yaml: "broker:\n  url: http://127.0.0.1:1883\n", line: 2, key: "broker.url",
                message: "\"http://127.0.0.1:1883\" must start with mqtt:// or mqtts://"),
        BadFile(name: "broker url without host", yaml: "broker:\n  url: mqtt://:1883\n", line: 2, key: "broker.url",
                message: "has no host"),
        BadFile(name: "broker url bad port", yaml: "broker:\n  url: mqtt://h:99999\n", line: 2, key: "broker.url",
                message: "has an invalid port \"99999\""),
        BadFile(name: "worker serves an unconfigured operation",
                yaml: "operations:\n  - name: echo\nworkers:\n  operations:\n    - echo\n    - telemetry.summary\n",
                line: 6, key: "workers.operations[1]",
                message: "\"telemetry.summary\" is not a configured operation (configured: echo)"),
        BadFile(name: "worker operations listed twice", yaml: "workers:\n  operations: [echo, echo]\n", line: 2,
                key: "workers.operations[1]", message: "\"echo\" is listed twice"),
        BadFile(name: "password and passwordFile",
                yaml: "broker:\n  username: u\n  password: p\n  passwordFile: f\n", line: 4,
                key: "broker.passwordFile", message: "set password or passwordFile, not both"),
        BadFile(name: "certificate without key", yaml: "broker:\n  tls:\n    certFile: c.crt\n", line: 3,
                key: "broker.tls.certFile", message: "needs both certFile and keyFile"),
        BadFile(name: "bad bridge id", yaml: "bridge:\n  id: \"bridge #1\"\n", line: 2, key: "bridge.id",
                message: "is not a valid name"),
        BadFile(name: "address without port", yaml: "http:\n  address: localhost\n", line: 2, key: "http.address",
                message: "\"localhost\" has no port"),
        BadFile(name: "bad log level", yaml: "log:\n  level: verbose\n", line: 2, key: "log.level",
                message: "\"verbose\" is not a log level"),
        BadFile(name: "reply QoS 2", yaml: "replyQoS: 2\n", line: 1, key: "replyQoS",
                message: "must be between 0 and 1, found 2"),
        BadFile(name: "empty store path", yaml: "store:\n  path: \"\"\n", line: 2, key: "store.path",
                message: "must not be empty"),
        BadFile(name: "store url and path", yaml: "store:\n  path: a.sqlite\n  url: sqlite:b.sqlite\n", line: 3,
                key: "store.url", message: "set url or path, not both"),
        BadFile(name: "store url of another database", yaml: "store:\n  url: mysql://u:secret@h/db\n", line: 2,
                key: "store.url", message: "\"mysql://u:***@h/db\" must start with postgres://, postgresql:// or sqlite:"),
        BadFile(name: "store url without a user", yaml: "store:\n  url: postgres://db.example.com/courier\n", line: 2,
                key: "store.url", message: "has no user name (write postgres://USER:PASSWORD@HOST:PORT/DATABASE)"),
        BadFile(name: "store url with options", yaml: "store:\n  url: postgres://u:secret@h/db?sslmode=require\n", line: 2,
                key: "store.url", message: "\"postgres://u:***@h/db?sslmode=require\" has options after ? or #"),
        BadFile(name: "store url naming no file", yaml: "store:\n  url: \"sqlite:\"\n", line: 2, key: "store.url",
                message: "names no file (write sqlite:PATH)"),
        BadFile(name: "value is a list", yaml: "bridge:\n  id: [a, b]\n", line: 2, key: "bridge.id",
                message: "expected a single value, found a list"),
        BadFile(name: "YAML syntax", yaml: "broker:\n  url: mqtt://h:1\n bad: [\n", line: 3, key: "",
                message: "invalid YAML"),
        BadFile(name: "duplicate key", yaml: "store:\n  path: a\n  path: b\n", line: 2, key: "",
                message: "key \"path\" is written more than once"),
    ]

    @Test(arguments: badFiles)
    func badFileIsLocated(_ bad: BadFile) throws {
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: bad.yaml, file: "bad.yaml")
        }
        #expect(error.file == "bad.yaml")
        #expect(error.line == bad.line, "\(error)")
        #expect(error.key == bad.key, "\(error)")
        #expect(error.message.contains(bad.message), "\(error)")
        let prefix = bad.key.isEmpty ? "bad.yaml:\(bad.line): " : "bad.yaml:\(bad.line): \(bad.key): "
        #expect(error.description.hasPrefix(prefix), "\(error)")
    }

    @Test func nullValuesMeanNotSet() throws {
        let config = try ConfigLoader.parse(
            yaml: "broker:\n  username:\n  password: ~\n  tls:\nworkers:\n  id: null\n", file: "n.yaml")
        #expect(config == CourierConfiguration())
    }

    @Test func aliasesAreFollowed() throws {
        let yaml = """
            operations:
              - &base
                name: a
                timeout: 4s
              - name: b
                timeout: 4s
            workers:
              operations: [a, b]
            """
        let config = try ConfigLoader.parse(yaml: yaml, file: "a.yaml")
        #expect(config.operations.map(\.timeout) == [.seconds(4), .seconds(4)])
    }

    @Test func missingFileIsReported() throws {
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.load(path: "/nonexistent/courier.yaml", environment: [:])
        }
        #expect(error.description == "/nonexistent/courier.yaml: cannot read the configuration: no such file")
    }
}

extension CourierConfiguration {
    func with(_ change: (inout CourierConfiguration) -> Void) -> CourierConfiguration {
        var copy = self
        change(&copy)
        return copy
    }
}

@Suite(.timeLimit(.minutes(1)))
struct StoreURLTests {
    @Test func aPostgresURLSelectsPostgreSQL() throws {
        let config = try ConfigLoader.parse(
            yaml: "store:\n  url: postgres://courier:s%40cret@db.example.com:6432/requests\n", file: "c.yaml")
        #expect(config.store.postgres == PostgresURL(host: "db.example.com", port: 6432, username: "courier", password: "s@cret", database: "requests"))
        #expect(config.store.location == "postgres://courier@db.example.com:6432/requests")
        #expect(!"\(config.store)".contains("cret"))
    }

    /// libpq's defaults: port 5432, the database named after the user.
    @Test func portAndDatabaseHaveDefaults() throws {
        let url = try PostgresURL(parsing: "postgresql://courier@[::1]")
        #expect(url == PostgresURL(host: "::1", port: 5432, username: "courier", database: "courier"))
        #expect(url.description == "postgres://courier@[::1]:5432/courier")
    }

    /// What `courier dev --bridges` hands its bridges reads back as the same URL.
    @Test func theURLWithItsPasswordReadsBackTheSame() throws {
        for url in [
            PostgresURL(host: "db.example.com", port: 6432, username: "cou@rier", password: "p:a/s s%@", database: "requests"),
            PostgresURL(host: "::1", username: "courier", database: "courier"),
        ] {
            #expect(try PostgresURL(parsing: url.urlWithPassword) == url, "\(url.urlWithPassword)")
        }
    }

    @Test func sqliteURLsAndPathsSelectSQLite() throws {
        #expect(try ConfigLoader.parse(yaml: "store:\n  url: sqlite:/var/lib/c.sqlite\n", file: "c.yaml").store.location == "/var/lib/c.sqlite")
        let config = try ConfigLoader.parse(yaml: "store:\n  path: c.sqlite\n", file: "c.yaml")
        #expect(config.store.postgres == nil)
        #expect(config.store.location == "c.sqlite")
    }

    @Test func theEnvironmentOverridesTheFileEitherWay() throws {
        let postgres = try ConfigLoader.parse(yaml: "store:\n  url: postgres://u:p@h/d\n", file: "c.yaml")
        var config = postgres
        try ConfigLoader.applyEnvironment(["COURIER_STORE_PATH": "/tmp/c.sqlite"], to: &config)
        #expect(config.store.postgres == nil)
        #expect(config.store.path == "/tmp/c.sqlite")

        config = CourierConfiguration()
        try ConfigLoader.applyEnvironment(["COURIER_STORE_URL": "postgres://u:p@h/d"], to: &config)
        #expect(config.store == postgres.store)

        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.applyEnvironment(["COURIER_STORE_URL": "postgres://u:p@h/d", "COURIER_STORE_PATH": "x"], to: &config)
        }
        #expect(error.key == "COURIER_STORE_URL")
        let bad = try #require(throws: ConfigError.self) {
            try ConfigLoader.applyEnvironment(["COURIER_STORE_URL": "postgres://u:hunter2@"], to: &config)
        }
        #expect(bad.description == "COURIER_STORE_URL: \"postgres://u:***@\" has no host (write postgres://USER:PASSWORD@HOST:PORT/DATABASE)")
    }
}
