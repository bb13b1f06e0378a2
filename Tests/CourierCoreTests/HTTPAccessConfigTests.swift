import CourierCore
import Foundation
import Testing

@testable import CourierConfig

/// The repository's `Config/courier-production.yaml`.
let productionConfigPath = URL(fileURLWithPath: shippedConfigPath)
    .deletingLastPathComponent()
    .appendingPathComponent("courier-production.yaml")
    .path

/// `http.tokens`, `COURIER_HTTP_TOKENS_FILE`, and the rule that an API without tokens listens on
/// loopback only, as `courier config check` and every daemon apply them.
@Suite(.timeLimit(.minutes(1)))
final class HTTPAccessConfigTests {
    private let files = TemporaryFiles()
    static let tokenText = "read 0123456789abcdef0123456789abcdef grafana\nwrite fedcba9876543210fedcba9876543210 ops\n"

    /// A configuration file with these `http` lines (the address on line 2, tokens on line 3).
    func config(_ http: String) throws -> String {
        try files.file("courier.yaml", contents: "http:\n\(http)\nlog:\n  level: info\n")
    }

    @Test func theTokensKeyAndItsVariableAreRead() throws {
        let config = try ConfigLoader.parse(yaml: "http:\n  address: 0.0.0.0:80\n  tokens: /etc/courier/http.tokens\n", file: "c.yaml")
        #expect(config.httpTokensFile == "/etc/courier/http.tokens")
        #expect(try ConfigLoader.parse(yaml: "http:\n  tokens:\n", file: "c.yaml").httpTokensFile == nil)
        #expect(CourierConfiguration().httpTokensFile == nil)
        let fromEnvironment = try ConfigLoader.load(path: nil, environment: ["COURIER_HTTP_TOKENS_FILE": "/run/secrets/tokens"])
        #expect(fromEnvironment.httpTokensFile == "/run/secrets/tokens")
        #expect(EnvironmentOverride.all.map(\.name).contains("COURIER_HTTP_TOKENS_FILE"))
        let error = try #require(throws: ConfigError.self) { try ConfigLoader.parse(yaml: "http:\n  tokens: \"\"\n", file: "c.yaml") }
        #expect(error.file == "c.yaml" && error.line == 2 && error.key == "http.tokens")
    }

    /// A worker has no HTTP API: the production config's `http` keys are not its business.
    @Test func aDaemonWithoutTheHTTPAPISkipsItsChecks() throws {
        let path = try config("  address: 0.0.0.0:8080\n  tokens: /nonexistent/http.tokens")
        let configuration = try ConfigLoader.load(path: path, environment: [:])
        try ConfigLoader.checkFiles(configuration, path: path, servesHTTP: false, environment: [:])
        #expect(throws: ConfigError.self) { try ConfigLoader.checkFiles(configuration, path: path, environment: [:]) }
        let open = try ConfigLoader.load(path: try config("  address: 0.0.0.0:8080"), environment: [:])
        try ConfigLoader.checkFiles(open, path: nil, servesHTTP: false, environment: [:])
    }

    @Test func anOpenAPIOnLoopbackIsFine() throws {
        for address in ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.0.0.1:0"] {
            let path = try config("  address: \"\(address)\"")
            let configuration = try ConfigLoader.load(path: path, environment: [:])
            try ConfigLoader.checkFiles(configuration, path: path, environment: [:])
            #expect(try ConfigLoader.readTokens(configuration) == nil)
        }
        // The defaults and the shipped development file.
        try ConfigLoader.checkFiles(CourierConfiguration(), path: nil, environment: [:])
        try ConfigLoader.checkFiles(try ConfigLoader.load(path: shippedConfigPath, environment: [:]), path: shippedConfigPath, environment: [:])
    }

    @Test func anOpenAPIBeyondLoopbackIsRefusedWhereTheAddressWasSet() throws {
        let path = try config("  address: 0.0.0.0:8080")
        let configuration = try ConfigLoader.load(path: path, environment: [:])
        let fromFile = try #require(throws: ConfigError.self) { try ConfigLoader.checkFiles(configuration, path: path, environment: [:]) }
        #expect(fromFile.file == path)
        #expect(fromFile.line == 2)
        #expect(fromFile.key == "http.address")
        #expect(fromFile.message == LoopbackRule.problem(address: "0.0.0.0:8080"))
        #expect(fromFile.description.contains("set http.tokens (or COURIER_HTTP_TOKENS_FILE)"))

        let environment = ["COURIER_HTTP_ADDRESS": "192.168.1.20:9000"]
        let overridden = try ConfigLoader.load(path: shippedConfigPath, environment: environment)
        let fromVariable = try #require(throws: ConfigError.self) {
            try ConfigLoader.checkFiles(overridden, path: shippedConfigPath, environment: environment)
        }
        #expect(fromVariable == ConfigError(key: "COURIER_HTTP_ADDRESS", message: LoopbackRule.problem(address: "192.168.1.20:9000")!))

        // A flag's value (neither the file's nor the variable's): the key alone.
        var flagged = try ConfigLoader.load(path: shippedConfigPath, environment: [:])
        flagged.httpAddress = "[::]:8080"
        let fromFlag = try #require(throws: ConfigError.self) { try ConfigLoader.checkFiles(flagged, path: shippedConfigPath, environment: [:]) }
        #expect(fromFlag == ConfigError(key: "http.address", message: LoopbackRule.problem(address: "[::]:8080")!))
    }

    @Test func withTokensAnyAddressIsFine() throws {
        let tokens = try files.file("http.tokens", contents: Self.tokenText)
        let path = try config("  address: 0.0.0.0:8080\n  tokens: \(tokens)")
        let configuration = try ConfigLoader.load(path: path, environment: [:])
        try ConfigLoader.checkFiles(configuration, path: path, environment: [:])
        let read = try #require(try ConfigLoader.readTokens(configuration))
        #expect(read.tokens.map(\.scope) == [.read, .write])
        #expect(read.tokens.map(\.name) == ["grafana", "ops"])

        // The same through the variable.
        let open = try config("  address: 0.0.0.0:8080")
        let environment = ["COURIER_HTTP_TOKENS_FILE": tokens]
        try ConfigLoader.checkFiles(try ConfigLoader.load(path: open, environment: environment), path: open, environment: environment)
    }

    @Test func anUnreadableTokenFileIsReportedLikeAPasswordFile() throws {
        let path = try config("  address: 0.0.0.0:8080\n  tokens: /nonexistent/http.tokens")
        let configuration = try ConfigLoader.load(path: path, environment: [:])
        let error = try #require(throws: ConfigError.self) { try ConfigLoader.checkFiles(configuration, path: path, environment: [:]) }
        #expect(error.description == #"\#(path):3: http.tokens: cannot read "/nonexistent/http.tokens": no such file"#)

        let environment = ["COURIER_HTTP_TOKENS_FILE": "/nonexistent/other.tokens"]
        let overridden = try ConfigLoader.load(path: path, environment: environment)
        let fromVariable = try #require(throws: ConfigError.self) { try ConfigLoader.checkFiles(overridden, path: path, environment: environment) }
        #expect(fromVariable.description == #"COURIER_HTTP_TOKENS_FILE: cannot read "/nonexistent/other.tokens": no such file"#)

        let directory = URL(fileURLWithPath: try files.file("x", contents: "")).deletingLastPathComponent().path
        let readError = try #require(throws: ConfigError.self) {
            try ConfigLoader.readTokens(CourierConfiguration().with { $0.httpTokensFile = directory })
        }
        #expect(readError.description == #"http.tokens: cannot read "\#(directory)": it is a directory"#)
    }

    @Test func aBadTokenFileNamesItsOwnLine() throws {
        let tokens = try files.file("http.tokens", contents: "# tokens\nread 0123456789abcdef0123456789abcdef\nwrite tooshort\n")
        let path = try config("  address: 127.0.0.1:8080\n  tokens: \(tokens)")
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.checkFiles(try ConfigLoader.load(path: path, environment: [:]), path: path, environment: [:])
        }
        #expect(error.description == "\(tokens):3: the token is shorter than 16 characters")
    }

    @Test func theProductionConfigurationNeedsItsTokens() throws {
        let config = try ConfigLoader.load(path: productionConfigPath, environment: [:])
        #expect(config.broker.url == "mqtts://localhost:8883")
        #expect(config.broker.username == "courier-bridge")
        #expect(config.broker.passwordFile == "Config/secrets/courier-bridge.pass")
        #expect(config.broker.tls == .init(caFile: "Config/certs/ca.crt"))
        #expect(config.httpAddress == "0.0.0.0:8080")
        #expect(config.httpTokensFile == "Config/secrets/http.tokens")

        // With every secret it names (made elsewhere, as make-dev-secrets.sh would), it passes.
        let environment = [
            "COURIER_BROKER_PASSWORD_FILE": try files.file("bridge.pass", contents: "secret\n"),
            "COURIER_BROKER_TLS_CA_FILE": try files.file("ca.crt", contents: "-----BEGIN CERTIFICATE-----\n"),
            "COURIER_HTTP_TOKENS_FILE": try files.file("http.tokens", contents: Self.tokenText),
        ]
        let withSecrets = try ConfigLoader.load(path: productionConfigPath, environment: environment)
        try ConfigLoader.checkFiles(withSecrets, path: productionConfigPath, environment: environment)

        // Without its tokens it is refused, at the line of http.address.
        let withoutTokens = withSecrets.with { $0.httpTokensFile = nil }
        let error = try #require(throws: ConfigError.self) {
            try ConfigLoader.checkFiles(withoutTokens, path: productionConfigPath, environment: environment)
        }
        #expect(error.key == "http.address")
        #expect(error.file == productionConfigPath)
        let lines = try String(contentsOfFile: productionConfigPath, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let line = try #require(error.line)
        #expect(lines[line - 1].contains("address: 0.0.0.0:8080"))
    }
}
