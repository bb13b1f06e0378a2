import CourierBridge
import CourierCore
import CourierHTTP
import CourierStore
import CourierWorkers
import Foundation
import Hummingbird
import HummingbirdTesting
import MQTT
import Testing

@Suite("bearer tokens on the HTTP API", .timeLimit(.minutes(2)))
struct AuthRouteTests {
    static let readSecret = "read-token-0123456789abcdef"
    static let writeSecret = "write-token-0123456789abcdef"
    static let tokens = AccessTokens([
        AccessToken(scope: .read, secret: readSecret, name: "grafana", line: 1),
        AccessToken(scope: .write, secret: writeSecret, name: "ops", line: 2),
    ])
    static let read: HTTPFields = [.authorization: "Bearer \(readSecret)"]
    static let write: HTTPFields = [.authorization: "Bearer \(writeSecret)"]

    /// Every call of the API but the health checks, and a path that is no route.
    static let guarded: [(HTTPRequest.Method, String)] = [
        (.post, "/v1/operations/echo?device=a1"),
        (.get, "/v1/requests"),
        (.get, "/v1/requests/some-id"),
        (.get, "/v1/requests/some-id/result"),
        (.delete, "/v1/requests/some-id"),
        (.get, "/v1/deadletters"),
        (.post, "/v1/deadletters/some-id/replay"),
        (.get, "/metrics"),
        (.get, "/v1/nothing-here"),
    ]

    @Test("401 without a token, with a wrong one or another scheme, on every call; health checks stay open")
    func unauthorized() async throws {
        try await HTTPHarness.run(.live, tokens: Self.tokens) { _, client in
            let wrong = [
                "Bearer wrong-token-0123456789abcdef",
                "Bearer \(Self.readSecret.dropLast())",
                "Bearer \(Self.writeSecret)x",
                "Bearer \(Self.readSecret.dropLast())F",
                "Basic \(Data("ops:\(Self.writeSecret)".utf8).base64EncodedString())",
                "Bearer",
            ]
            for (method, uri) in Self.guarded {
                let none = try await client.send(method, uri, body: method == .post ? "x" : nil)
                #expect(none.status == .unauthorized, "\(method) \(uri)")
                #expect(none.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true, "\(method) \(uri)")
                #expect(none.headers[.contentType] == "application/json")
                #expect(none.errorBody == ErrorBody(status: 401, code: "unauthorized", message: "this API needs a bearer token: send Authorization: Bearer TOKEN"))
                for header in wrong {
                    let refused = try await client.send(method, uri, headers: [.authorization: header], body: method == .post ? "x" : nil)
                    #expect(refused.status == .unauthorized, "\(method) \(uri) with \(header)")
                    #expect(refused.errorBody?.error.code == "unauthorized", "\(method) \(uri) with \(header)")
                    #expect(refused.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true, "\(method) \(uri) with \(header)")
                    #expect(!refused.text.contains("token-0123456789"), "the answer repeats the token: \(refused.text)")
                }
            }
            let health = try await client.send(.get, "/healthz")
            #expect(health.status == .ok)
            #expect(try await client.send(.get, "/readyz").status == .ok)
            #expect(try await client.send(.get, "/healthz", headers: [.authorization: "Bearer wrong-token-0123456789abcdef"]).status == .ok)

            // Nothing refused was submitted.
            let page: RequestPage = try await client.send(.get, "/v1/requests", headers: Self.read).decode()
            #expect(page.requests.isEmpty)
        }
    }

    @Test("a read token reads every resource and gets 403 on every write; a write token does everything")
    func scopes() async throws {
        try await HTTPHarness.run(tokens: Self.tokens) { _, client in
            // Set up with the write token: a finished request, a dead letter and a pending one.
            let done = try await client.send(.post, "/v1/operations/echo?device=s1", headers: Self.write.merging([.prefer: "wait=10"]), body: "hello")
            #expect(done.status == .ok)
            let doneID = try #require(done.headers[.location]?.split(separator: "/").last.map(String.init))
            let failed = try await client.send(.post, "/v1/operations/test.flaky?device=s1", headers: Self.write.merging([.prefer: "wait=10"]), body: "boom")
            #expect(failed.status == .internalServerError)
            let deadID = try #require(failed.headers[.location]?.split(separator: "/").last.map(String.init))
            let pending = try await client.send(.post, "/v1/operations/test.gated?device=s1", headers: Self.write, body: "hold")
            #expect(pending.status == .accepted)
            let pendingID = try pending.decode(RequestStatus.self).id

            // Every read, with either token.
            for headers in [Self.read, Self.write] {
                for uri in ["/v1/requests/\(doneID)", "/v1/requests/\(doneID)/result", "/v1/requests", "/v1/deadletters", "/metrics"] {
                    let response = try await client.send(.get, uri, headers: headers)
                    #expect(response.status == .ok, "GET \(uri) with \(headers)")
                }
                #expect(try await client.send(.get, "/v1/requests/\(doneID)/result", headers: headers).text == "hello")
            }

            // Every write, with the read token: 403, and nothing happens.
            let forbidden: [(HTTPRequest.Method, String)] = [
                (.post, "/v1/operations/echo?device=s1"),
                (.delete, "/v1/requests/\(pendingID)"),
                (.post, "/v1/deadletters/\(deadID)/replay"),
            ]
            for (method, uri) in forbidden {
                let response = try await client.send(method, uri, headers: Self.read, body: method == .post ? "x" : nil)
                #expect(response.status == .forbidden, "\(method) \(uri)")
                let error = try #require(response.errorBody?.error, "\(method) \(uri): \(response.text)")
                #expect(error.status == 403)
                #expect(error.code == "forbidden")
                #expect(error.message.contains("write token"), "\(error.message)")
                #expect(response.headers[.wwwAuthenticate]?.contains(#"error="insufficient_scope""#) == true)
                #expect(!response.text.contains(Self.readSecret))
            }
            let unchanged: RequestPage = try await client.send(.get, "/v1/requests", headers: Self.read).decode()
            #expect(unchanged.requests.count == 3)
            let stillPending: RequestStatus = try await client.send(.get, "/v1/requests/\(pendingID)", headers: Self.read).decode()
            #expect(!stillPending.state.isFinal)

            // The same writes with the write token.
            let accepted = try await client.send(.post, "/v1/operations/echo?device=s1", headers: Self.write, body: "x")
            #expect(accepted.status == .accepted)
            let cancelled = try await client.send(.delete, "/v1/requests/\(pendingID)", headers: Self.write)
            #expect(cancelled.status == .ok)
            #expect(try cancelled.decode(RequestStatus.self).state == .cancelled)
            let replayed = try await client.send(.post, "/v1/deadletters/\(deadID)/replay", headers: Self.write)
            #expect(replayed.status == .accepted)
            #expect(try replayed.decode(RequestStatus.self).reason == "replay of \(deadID)")

            // Refusals are counted by reason; tokens never appear in the metrics.
            let metrics = try await client.send(.get, "/metrics", headers: Self.read).text
            #expect(HealthRouteTests.value(of: #"courier_http_auth_failures_total{reason="insufficient_scope"}"#, in: metrics) >= 3)
            #expect(!metrics.contains(Self.readSecret) && !metrics.contains(Self.writeSecret))
        }
    }

    @Test("an API without tokens is refused anywhere but loopback")
    func openOnlyOnLoopback() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-http-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("courier.sqlite").path)
        defer { try? store.close() }
        // Never run: only built.
        let bridge = try Bridge(
            configuration: CourierConfiguration(),
            mqtt: MQTTConfiguration(host: "127.0.0.1", port: 1, clientID: "x"),
            store: store,
            workers: .inMemory(WorkerPool(handlers: BuiltinHandlers.all, concurrency: 1)),
            logger: .test("courier.http.test")
        )
        for host in ["0.0.0.0", "192.168.1.20", "[::]", "example.com"] {
            #expect(throws: ConfigError.self, "\(host)") {
                _ = try makeHTTPApplication(bridge: bridge, registry: nil, address: (host, 8080), tokens: nil, logger: .test("courier.http.test"))
            }
            _ = try makeHTTPApplication(bridge: bridge, registry: nil, address: (host, 8080), tokens: Self.tokens, logger: .test("courier.http.test"))
        }
        for host in ["127.0.0.1", "localhost", "[::1]"] {
            _ = try makeHTTPApplication(bridge: bridge, registry: nil, address: (host, 0), tokens: nil, logger: .test("courier.http.test"))
        }
    }
}

extension HTTPFields {
    /// These fields with `other`'s added.
    func merging(_ other: HTTPFields) -> HTTPFields {
        var fields = self
        fields.append(contentsOf: other)
        return fields
    }
}
