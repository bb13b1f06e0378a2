import CourierCore
import HTTPTypes
import Testing

@testable import CourierHTTP

@Suite("access policy: scopes, bearer tokens, constant-time comparison")
struct AccessPolicyTests {
    static let reader = AccessToken(scope: .read, secret: "read-0123456789abcdef", name: "grafana", line: 1)
    static let writer = AccessToken(scope: .write, secret: "write-0123456789abcdef", name: "ops", line: 2)
    static let policy = AccessPolicy(tokens: AccessTokens([reader, writer]))

    @Test("reads need read, everything else write, health checks nothing", arguments: [
        (HTTPRequest.Method.get, "/v1/requests", AccessScope?.some(.read)),
        (.get, "/v1/requests/abc", .read),
        (.get, "/v1/requests/abc/result", .read),
        (.get, "/v1/deadletters", .read),
        (.get, "/metrics", .read),
        (.head, "/metrics", .read),
        (.get, "/v1/nothing-here", .read),
        (.post, "/v1/operations/echo", .write),
        (.delete, "/v1/requests/abc", .write),
        (.post, "/v1/deadletters/abc/replay", .write),
        (.put, "/v1/requests/abc", .write),
        (.options, "/v1/requests", .write),
        (.get, "/healthz", nil),
        (.get, "/readyz", nil),
        (.get, "/healthz/more", .read),
    ] as [(HTTPRequest.Method, String, AccessScope?)])
    func requiredScope(_ method: HTTPRequest.Method, _ path: String, _ scope: AccessScope?) {
        #expect(AccessPolicy.requiredScope(method: method, path: path) == scope)
    }

    @Test("the Bearer scheme in any case, spaces around the token", arguments: [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER   abc  ", "abc"),
        ("BeArEr a.b-c_d~e+f/g==", "a.b-c_d~e+f/g=="),
    ])
    func bearerToken(_ header: String, _ token: String) {
        #expect(AccessPolicy.bearerToken(header) == Array(token.utf8))
    }

    @Test("no token in other schemes or an empty Bearer", arguments: ["", "Bearer", "Bearer ", "Bearer    ", "Basic abc", "Bearerabc", "Token abc", " Bearer abc"])
    func notABearerToken(_ header: String) {
        #expect(AccessPolicy.bearerToken(header) == nil)
    }

    @Test("equal only when every byte and the length are equal")
    func constantTimeEquals() {
        let secret = Array("0123456789abcdef".utf8)
        #expect(AccessPolicy.constantTimeEquals(secret, secret))
        #expect(!AccessPolicy.constantTimeEquals(Array("0123456789abcdeX".utf8), secret))
        #expect(!AccessPolicy.constantTimeEquals(Array("X123456789abcdef".utf8), secret))
        #expect(!AccessPolicy.constantTimeEquals(Array(secret.dropLast()), secret))
        #expect(!AccessPolicy.constantTimeEquals(secret + Array("0".utf8), secret))
        // Read cyclically, the secret twice over matches byte for byte: only the length differs.
        #expect(!AccessPolicy.constantTimeEquals(secret + secret, secret))
        #expect(!AccessPolicy.constantTimeEquals([], secret))
        #expect(!AccessPolicy.constantTimeEquals([], []))
    }

    @Test("decisions: open, allowed, missing, invalid and insufficient scope")
    func decisions() {
        let policy = Self.policy
        let read = ["Bearer read-0123456789abcdef"]
        let write = ["Bearer write-0123456789abcdef"]
        #expect(policy.decide(method: .get, path: "/healthz", authorization: []) == .open)
        #expect(policy.decide(method: .get, path: "/readyz", authorization: ["Bearer wrong-0123456789abcdef"]) == .open)
        #expect(policy.decide(method: .get, path: "/v1/requests", authorization: read) == .allowed(Self.reader))
        #expect(policy.decide(method: .get, path: "/v1/requests", authorization: write) == .allowed(Self.writer))
        #expect(policy.decide(method: .post, path: "/v1/operations/echo", authorization: write) == .allowed(Self.writer))
        #expect(policy.decide(method: .post, path: "/v1/operations/echo", authorization: read) == .insufficientScope(Self.reader, required: .write))
        #expect(policy.decide(method: .delete, path: "/v1/requests/x", authorization: read) == .insufficientScope(Self.reader, required: .write))
        #expect(policy.decide(method: .get, path: "/metrics", authorization: []) == .missingToken)
        #expect(policy.decide(method: .get, path: "/metrics", authorization: ["Basic cmVhZDpyZWFk"]) == .missingToken)
        #expect(policy.decide(method: .get, path: "/metrics", authorization: read + write) == .missingToken)
        #expect(policy.decide(method: .get, path: "/metrics", authorization: ["Bearer read-0123456789abcdeF"]) == .invalidToken)
        #expect(policy.decide(method: .get, path: "/metrics", authorization: ["Bearer read-0123456789abcde"]) == .invalidToken)
        #expect(policy.decide(method: .get, path: "/metrics", authorization: ["Bearer read-0123456789abcdefg"]) == .invalidToken)
        let huge = "Bearer " + String(repeating: "a", count: AccessTokens.maximumLength + 1)
        #expect(policy.decide(method: .get, path: "/metrics", authorization: [huge]) == .invalidToken)
    }

    @Test("a token matches whichever line it is on, with several tokens of one scope")
    func manyTokens() {
        let tokens = (1...20).map { AccessToken(scope: $0 == 13 ? .write : .read, secret: "token-\($0)-0123456789abcdef", line: $0) }
        let policy = AccessPolicy(tokens: AccessTokens(tokens))
        #expect(policy.token(matching: Array("token-13-0123456789abcdef".utf8)) == tokens[12])
        #expect(policy.token(matching: Array("token-1-0123456789abcdef".utf8)) == tokens[0])
        #expect(policy.token(matching: Array("token-21-0123456789abcdef".utf8)) == nil)
    }
}
