import CourierTesting
import Foundation
import Testing

/// The HTTP API's bearer tokens through the real binary: daemons refuse an open API beyond
/// loopback, and the operator commands send the token of `--token-file` or `COURIER_TOKEN`
/// without ever printing it.
@Suite(.timeLimit(.minutes(2)))
struct HTTPTokenTests {
    static let readToken = "e2e-read-0123456789abcdef0123456789"
    static let writeToken = "e2e-write-0123456789abcdef0123456789"

    /// `courier arguments...` with `environment` added to this process's.
    static func courier(_ arguments: [String], environment: [String: String] = [:]) async throws -> Command.Output {
        let variables = environment.map { "\($0.key)=\($0.value)" }
        return try await Command.run("/usr/bin/env", variables + [CourierDaemon.binary] + arguments)
    }

    @Test
    func anOpenAPIBeyondLoopbackIsRefusedByCheckAndDaemon() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-tokens-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("courier.yaml").path
        try "http:\n  address: 0.0.0.0:8080\n".write(toFile: path, atomically: true, encoding: .utf8)

        let check = try await Self.courier(["config", "check", path])
        #expect(check.status == 2)
        #expect(check.stderr.hasPrefix(#"\#(path):2: http.address: "0.0.0.0:8080" is not a loopback address"#), "\(check.stderr)")
        #expect(check.stderr.contains("set http.tokens (or COURIER_HTTP_TOKENS_FILE)"), "\(check.stderr)")

        let store = directory.appendingPathComponent("courier.sqlite").path
        let serve = try await Self.courier(["serve", "--config", path, "--http", "0.0.0.0:0", "--store", store])
        #expect(serve.status != 0)
        #expect(serve.stderr.contains(#"http.address: "0.0.0.0:0" is not a loopback address"#), "\(serve.stderr)")
        #expect(!FileManager.default.fileExists(atPath: store), "the bridge started before refusing")
        try? FileManager.default.removeItem(at: directory)
    }

    @Test
    func theOperatorCommandsSendTheTokenOfTokenFileOrCourierToken() async throws {
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-tokens-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker)
            let tokens = directory.appendingPathComponent("http.tokens").path
            try "# test tokens\nread \(Self.readToken) reader\nwrite \(Self.writeToken) writer\n".write(toFile: tokens, atomically: true, encoding: .utf8)
            let readFile = directory.appendingPathComponent("read.token").path
            try "\(Self.readToken)\n".write(toFile: readFile, atomically: true, encoding: .utf8)
            let writeFile = directory.appendingPathComponent("write.token").path
            try "\(Self.writeToken)\n".write(toFile: writeFile, atomically: true, encoding: .utf8)

            var environment = ProcessInfo.processInfo.environment
            environment["COURIER_HTTP_TOKENS_FILE"] = tokens
            let serve = try await CourierDaemon.start(
                ["serve", "--config", config], readyLine: "bridge started", directory: directory, environment: environment
            )
            let api = try await serve.httpAPI()
            var outputs: [String] = []

            let none = try await Self.courier(["requests", "list", "--api", api])
            outputs += [none.stdout, none.stderr]
            #expect(none.status != 0)
            #expect(none.stderr.contains("401 unauthorized"), "\(none.stderr)")
            #expect(none.stderr.contains("--token-file FILE or COURIER_TOKEN"), "\(none.stderr)")

            let read = try await Self.courier(["requests", "list", "--api", api, "--token-file", readFile])
            outputs += [read.stdout, read.stderr]
            #expect(read.status == 0, "\(read.stderr)")
            #expect(read.stdout == "no requests\n")

            // --token-file wins over COURIER_TOKEN.
            let both = try await Self.courier(
                ["deadletters", "list", "--api", api, "--token-file", readFile], environment: ["COURIER_TOKEN": "not-a-token-0123456789abcdef"]
            )
            outputs += [both.stdout, both.stderr]
            #expect(both.status == 0, "\(both.stderr)")
            #expect(both.stdout == "no dead letters\n")

            let readCancels = try await Self.courier(["requests", "cancel", "some-id", "--api", api], environment: ["COURIER_TOKEN": Self.readToken])
            outputs += [readCancels.stdout, readCancels.stderr]
            #expect(readCancels.status != 0)
            #expect(readCancels.stderr.contains("403 forbidden"), "\(readCancels.stderr)")

            // The write token gets past the check: the id is simply unknown.
            let writeCancels = try await Self.courier(["requests", "cancel", "some-id", "--api", api, "--token-file", writeFile])
            outputs += [writeCancels.stdout, writeCancels.stderr]
            #expect(writeCancels.status != 0)
            #expect(writeCancels.stderr.contains("404 not_found"), "\(writeCancels.stderr)")

            let wrong = try await Self.courier(["deadletters", "replay", "some-id", "--api", api], environment: ["COURIER_TOKEN": "not-a-token-0123456789abcdef"])
            outputs += [wrong.stdout, wrong.stderr]
            #expect(wrong.stderr.contains("401 unauthorized"), "\(wrong.stderr)")

            await serve.stop()
            outputs.append(serve.log)
            #expect(serve.log.contains(#"auth.reason=insufficient_scope auth.token=reader"#), "\(serve.log)")
            for output in outputs {
                #expect(!output.contains(Self.readToken) && !output.contains(Self.writeToken), "a token was printed: \(output)")
            }
            try? FileManager.default.removeItem(at: directory)
        }
    }
}
