import CourierCore
import Foundation
import Testing

@Suite(.timeLimit(.minutes(1)))
struct AccessTokensTests {
    static let readSecret = "0123456789abcdef0123456789abcdef"
    static let writeSecret = "fedcba9876543210fedcba9876543210"

    @Test func aFileWithCommentsBlankLinesAndNames() throws {
        let text = """
            # who may call the API

            read  \(Self.readSecret)   grafana   # the dashboards
            \twrite\t\(Self.writeSecret)\r
            read abcdefghijklmnop.-_~+/ABC==
            """
        let tokens = try AccessTokens.parse(text, file: "http.tokens")
        #expect(tokens.tokens == [
            AccessToken(scope: .read, secret: Self.readSecret, name: "grafana", line: 3),
            AccessToken(scope: .write, secret: Self.writeSecret, name: nil, line: 4),
            AccessToken(scope: .read, secret: "abcdefghijklmnop.-_~+/ABC==", name: nil, line: 5),
        ])
    }

    struct BadFile: Sendable, CustomTestStringConvertible {
        var text: String
        var line: Int?
        var message: String
        var testDescription: String { message }
    }

    static let badFiles: [BadFile] = [
        BadFile(text: "read \(readSecret)\nadmin \(writeSecret)\n", line: 2,
                message: "a line starts with its scope, read or write (write SCOPE TOKEN [NAME])"),
        // The token first, as one might write it: the message must not repeat it.
        BadFile(text: "\(writeSecret) write\n", line: 1,
                message: "a line starts with its scope, read or write (write SCOPE TOKEN [NAME])"),
        BadFile(text: "READ \(readSecret)\n", line: 1,
                message: "a line starts with its scope, read or write (write SCOPE TOKEN [NAME])"),
        BadFile(text: "# tokens\n\nwrite\n", line: 3,
                message: "the write scope has no token after it (write SCOPE TOKEN [NAME])"),
        BadFile(text: "read \(readSecret) grafana extra\n", line: 1,
                message: "more than three fields (write SCOPE TOKEN [NAME])"),
        BadFile(text: "read \(readSecret)\nwrite 0123456789abcde\n", line: 2,
                message: "the token is shorter than 16 characters"),
        BadFile(text: "read \(readSecret)é\n", line: 1,
                message: "the token has characters other than A-Z a-z 0-9 - . _ ~ + / (and = at its end)"),
        BadFile(text: "read \(readSecret)=x\n", line: 1,
                message: "the token has characters other than A-Z a-z 0-9 - . _ ~ + / (and = at its end)"),
        BadFile(text: "read \(readSecret),\n", line: 1,
                message: "the token has characters other than A-Z a-z 0-9 - . _ ~ + / (and = at its end)"),
        BadFile(text: "read \(String(repeating: "a", count: 4097))\n", line: 1,
                message: "the token is longer than 4096 characters"),
        BadFile(text: "read \(readSecret) graf/ana\n", line: 1,
                message: "the name is not 1 to 64 of the characters A-Z a-z 0-9 _ . -"),
        BadFile(text: "read \(readSecret) a\n\n# again\nwrite \(readSecret) b\n", line: 4,
                message: "the same token is already on line 1; give every client its own"),
        BadFile(text: "", line: nil,
                message: "has no tokens, which would refuse every call (write one per line: SCOPE TOKEN [NAME])"),
        BadFile(text: "# only comments\n\n   \n", line: nil,
                message: "has no tokens, which would refuse every call (write one per line: SCOPE TOKEN [NAME])"),
    ]

    @Test(arguments: badFiles)
    func aBadFileIsLocatedWithoutRepeatingTheToken(_ bad: BadFile) throws {
        let error = try #require(throws: ConfigError.self) { try AccessTokens.parse(bad.text, file: "secrets/http.tokens") }
        #expect(error == ConfigError(file: "secrets/http.tokens", line: bad.line, key: "", message: bad.message))
        #expect(!error.description.contains(Self.readSecret))
        #expect(!error.description.contains(Self.writeSecret))
    }

    @Test func theErrorReadsLikeACompilerDiagnostic() throws {
        let error = try #require(throws: ConfigError.self) {
            try AccessTokens.parse("read \(Self.readSecret)\nwrite short\n", file: "Config/secrets/http.tokens")
        }
        #expect(error.description == "Config/secrets/http.tokens:2: the token is shorter than 16 characters")
    }

    @Test func aTokenNeverShowsItsSecret() {
        let token = AccessToken(scope: .write, secret: Self.writeSecret, name: "ops", line: 7)
        #expect(String(describing: token) == "write token ops")
        #expect(String(reflecting: token) == "write token ops")
        var dumped = ""
        dump(token, to: &dumped)
        #expect(!dumped.contains(Self.writeSecret), "\(dumped)")
        #expect(dumped.contains("<redacted>"), "\(dumped)")
        #expect(AccessToken(scope: .read, secret: Self.readSecret, line: 3).label == "line 3")
    }

    @Test func writeGrantsEverythingReadOnlyReading() {
        #expect(AccessScope.write.grants(.write))
        #expect(AccessScope.write.grants(.read))
        #expect(AccessScope.read.grants(.read))
        #expect(!AccessScope.read.grants(.write))
    }
}

@Suite
struct LoopbackRuleTests {
    @Test(arguments: ["127.0.0.1", "127.1.2.3", "127.255.255.254", "localhost", "LocalHost", "[::1]", "::1", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]"])
    func loopback(_ host: String) {
        #expect(LoopbackRule.isLoopback(host: host))
    }

    @Test(arguments: ["0.0.0.0", "[::]", "::", "10.0.0.1", "192.168.1.20", "128.0.0.1", "126.0.0.1", "[::2]", "[::ffff:10.0.0.1]", "example.com", "localhost.example.com", "127.0.0.1.nip.io", ""])
    func notLoopback(_ host: String) {
        #expect(!LoopbackRule.isLoopback(host: host))
    }

    @Test(arguments: [
        ("127.0.0.1:8080", "127.0.0.1"), ("[::1]:8080", "[::1]"), ("0.0.0.0:0", "0.0.0.0"), ("localhost:1", "localhost"),
    ])
    func hostOfAnAddress(_ address: String, _ host: String) {
        #expect(LoopbackRule.host(ofAddress: address) == host)
    }

    @Test func theProblemNamesTheAddressAndTheWayOut() throws {
        #expect(LoopbackRule.problem(address: "127.0.0.1:8080") == nil)
        #expect(LoopbackRule.problem(address: "[::1]:0") == nil)
        let problem = try #require(LoopbackRule.problem(address: "0.0.0.0:8080"))
        #expect(problem.hasPrefix(#""0.0.0.0:8080" is not a loopback address"#))
        #expect(problem.contains("http.tokens"))
        #expect(problem.contains("COURIER_HTTP_TOKENS_FILE"))
    }
}
