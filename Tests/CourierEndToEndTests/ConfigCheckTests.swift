import CourierTesting
import Foundation
import Testing

/// `courier config check` on the shipped files and on broken ones; daemons refuse the same
/// problems before they start anything.
@Suite(.timeLimit(.minutes(1)))
final class ConfigCheckTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The test's files, deleted when it ends (a class: an instance per test, then `deinit`).
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-config-check-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes `yaml` to a file of its own and returns its path.
    func file(_ yaml: String) throws -> String {
        let file = directory.appendingPathComponent("config-\(UUID().uuidString).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// `courier config check path`, with `environment` added to this process's.
    static func check(_ path: String, environment: [String: String] = [:]) async throws -> Command.Output {
        let variables = environment.map { "\($0.key)=\($0.value)" }
        return try await Command.run("/usr/bin/env", variables + [CourierDaemon.binary, "config", "check", path])
    }

    @Test(arguments: ["Config/courier.yaml", "Config/courier-cluster.yaml"])
    func theShippedConfigurationIsValid(_ file: String) async throws {
        let result = try await Self.check(Self.root.appendingPathComponent(file).path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("ok (3 operations"))
        #expect(result.stderr.isEmpty)
    }

    @Test
    func aBrokenFileNamesItsLineAndKeyOnStderr() async throws {
        let path = try file("bridge:\n  id: b\nlimits:\n  maxPendingPerDevice: lots\n")
        let result = try await Self.check(path)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("\(path):4: limits.maxPendingPerDevice: expected a whole number"), "\(result.stderr)")
        #expect(result.stdout.isEmpty, "\(result.stdout)")
    }

    @Test(arguments: [
        ("broker:\n  username: u\n  passwordFile: /nonexistent/bridge.pass\n", 3, "broker.passwordFile", "/nonexistent/bridge.pass"),
        ("broker:\n  url: mqtts://127.0.0.1:8883\n  tls:\n    caFile: /nonexistent/ca.crt\n", 4, "broker.tls.caFile", "/nonexistent/ca.crt"),
        ("broker:\n  tls: { caFile: CA, certFile: /nonexistent/c.crt, keyFile: KEY }\n", 2, "broker.tls.certFile", "/nonexistent/c.crt"),
        ("broker:\n  tls: { caFile: CA, certFile: CA, keyFile: /nonexistent/c.key }\n", 2, "broker.tls.keyFile", "/nonexistent/c.key"),
    ])
    func aMissingFileIsNamedWithItsKeyAndLine(yaml: String, line: Int, key: String, missing: String) async throws {
        // CA and KEY stand for files that exist.
        let readable = try file("-----BEGIN CERTIFICATE-----\n")
        let path = try file(yaml.replacingOccurrences(of: "CA", with: readable).replacingOccurrences(of: "KEY", with: readable))
        let result = try await Self.check(path)
        #expect(result.status == 2)
        #expect(result.stderr == "\(path):\(line): \(key): cannot read \"\(missing)\": no such file\n", "\(result.stderr)")
    }

    @Test
    func aMissingPasswordFileFromTheEnvironmentNamesTheVariable() async throws {
        let path = try file("broker:\n  username: u\n  passwordFile: /nonexistent/file.pass\n")
        let result = try await Self.check(path, environment: ["COURIER_BROKER_PASSWORD_FILE": "/nonexistent/env.pass"])
        #expect(result.status == 2)
        #expect(result.stderr == "COURIER_BROKER_PASSWORD_FILE: cannot read \"/nonexistent/env.pass\": no such file\n", "\(result.stderr)")

        // The password in the environment replaces the file's missing password file.
        let replaced = try await Self.check(path, environment: ["COURIER_BROKER_PASSWORD": "secret"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
    }

    @Test(arguments: [0, 1])
    func replyQoSZeroOrOneIsValid(qos: Int) async throws {
        let result = try await Self.check(try file("replyQoS: \(qos)\n"))
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test
    func replyQoSTwoIsRefused() async throws {
        let path = try file("bridge:\n  id: b\nreplyQoS: 2\n")
        let result = try await Self.check(path)
        #expect(result.status == 2)
        #expect(result.stderr == "\(path):3: replyQoS: must be between 0 and 1, found 2\n", "\(result.stderr)")
    }

    @Test
    func aDaemonRefusesAMissingCertificateBeforeStarting() async throws {
        let path = try file("broker:\n  url: mqtts://127.0.0.1:1\n  tls:\n    caFile: /nonexistent/ca.crt\n")
        let result = try await Command.run(CourierDaemon.binary, ["serve", "--config", path, "--http", "127.0.0.1:0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(path):4: broker.tls.caFile: cannot read \"/nonexistent/ca.crt\": no such file"), "\(result.stderr)")
    }

    @Test(arguments: ["--store", "--http", "--bridge-id"])
    func aWorkerRefusesTheBridgesOptions(_ flag: String) async throws {
        let result = try await Command.run(CourierDaemon.binary, ["worker", flag, "x"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(flag) is a bridge option"), "\(result.stderr)")
    }
}
