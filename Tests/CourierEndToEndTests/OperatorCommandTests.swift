import CourierTesting
import Foundation
import Testing

/// `courier requests list|show|cancel` and `courier deadletters list|replay`, the real binary
/// against a running `courier bridge`'s HTTP API, in tables and with `--json`.
@Suite(.timeLimit(.minutes(3)))
struct OperatorCommandTests {
    /// The fixture's policy, except that `echo` payloads starting with `hold` get no answer, so
    /// those requests stay pending (echo's deadline is 10 s).
    static let policy: FakeWorker.Policy = { work in
        if work.message.payload.starts(with: Data("hold".utf8)) { return nil }
        return BridgeFixture.policy(work)
    }

    @Test
    func requestsListFiltersAndPagesAndShowGivesTheResult() async throws {
        try await BridgeFixture.with(policy: Self.policy) { fixture in
            let alpha = try await Device.connect("ops-alpha", to: fixture.broker)
            let beta = try await Device.connect("ops-beta", to: fixture.broker)
            try await alpha.ask("echo", Data("one".utf8), correlation: "a1")
            #expect(try await alpha.reply(to: "a1").status == 200)
            try await beta.ask("failing", Data("two".utf8), correlation: "b1")
            #expect(try await beta.reply(to: "b1").status == 500)
            try await beta.ask("echo", Data("three".utf8), correlation: "b2")
            #expect(try await beta.reply(to: "b2").status == 200)
            // Delivered once the broker acknowledged the reply, just after the device got it.
            try await eventually("three requests final") {
                try await fixture.requests(["--json"]).allSatisfy { ["delivered", "failed"].contains($0["state"] as? String) }
            }

            let table = try await fixture.courier(["requests", "list"])
            let lines = table.split(separator: "\n").map(String.init)
            try #require(lines.count == 4, "\(table)")
            #expect(Self.cells(lines[0]) == ["ID", "DEVICE", "OPERATION", "STATE", "ATTEMPTS", "STATUS", "RECEIVED"])
            // Newest first.
            #expect(Self.cells(lines[1]).dropFirst().prefix(5) == ["ops-beta", "echo", "delivered", "1", "200"])
            #expect(Self.cells(lines[2]).dropFirst().prefix(5) == ["ops-beta", "failing", "failed", "1", "500"])
            #expect(Self.cells(lines[3]).dropFirst().prefix(5) == ["ops-alpha", "echo", "delivered", "1", "200"])
            let received = Self.cells(lines[3]).last ?? ""
            #expect(received.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(received)")

            let ofBeta = try await fixture.requests(["--device", "ops-beta", "--json"])
            #expect(ofBeta.map { $0["operation"] as? String } == ["echo", "failing"])
            let failed = try await fixture.requests(["--state", "failed", "--json"])
            #expect(failed.map { $0["device"] as? String } == ["ops-beta"])
            let echoes = try await fixture.requests(["--operation", "echo", "--device", "ops-alpha", "--json"])
            #expect(echoes.count == 1)
            #expect(echoes.first?["replyCode"] as? String == "ok")
            #expect(try await fixture.courier(["requests", "list", "--device", "nobody"]) == "no requests\n")

            // Pages: the table says how to go on, and the cursor gives the next request.
            let first = try await fixture.courier(["requests", "list", "--limit", "1"])
            let cursor = try #require(first.firstMatch(of: /more: add --cursor (\S+)/)?.1, "\(first)")
            let second = try await fixture.courier(["requests", "list", "--limit", "1", "--cursor", String(cursor)])
            #expect(Self.cells(second.split(separator: "\n").dropFirst().first ?? "").dropFirst().prefix(2) == ["ops-beta", "failing"], "\(second)")

            let id = try #require(echoes.first?["id"] as? String)
            let shown = try await fixture.courier(["requests", "show", id])
            let fields = Self.fields(shown)
            #expect(fields["id"] == id)
            #expect(fields["device"] == "ops-alpha")
            #expect(fields["state"] == "delivered")
            #expect(fields["reply"] == "200 ok")
            #expect(fields["content type"] == "application/octet-stream")
            #expect(fields["result"] == "one", "\(shown)")
            let json = try Self.object(try await fixture.courier(["requests", "show", id, "--json"]))
            #expect(json["id"] as? String == id)
            #expect(json["replyStatus"] as? Int == 200)
            #expect(json["deliveredAt"] is Int)

            let unknown = try await fixture.run(["requests", "show", "no-such-request"])
            #expect(unknown.status != 0)
            #expect(unknown.stderr.contains("404 not_found: no request no-such-request"), "\(unknown.stderr)")
            await alpha.shutdown()
            await beta.shutdown()
        }
    }

    @Test
    func requestsCancelAnswersTheDevice410() async throws {
        try await BridgeFixture.with(policy: Self.policy) { fixture in
            let device = try await Device.connect("ops-cancel", to: fixture.broker)
            let first = try await fixture.dispatch("hold-1", correlation: "h1", from: device)
            let second = try await fixture.dispatch("hold-2", correlation: "h2", from: device)

            let cancelled = try await fixture.courier(["requests", "cancel", first])
            #expect(cancelled == "cancelled \(first) (device ops-cancel, echo); the device is answered 410\n")
            let reply = try await device.reply(to: "h1")
            #expect(reply.status == 410)
            #expect(reply.errorCode == "cancelled")

            let json = try Self.object(try await fixture.courier(["requests", "cancel", second, "--json"]))
            #expect(json["id"] as? String == second)
            #expect(json["state"] as? String == "cancelled")
            #expect(json["replyStatus"] as? Int == 410)
            #expect(try await device.reply(to: "h2").status == 410)

            let again = try await fixture.run(["requests", "cancel", first])
            #expect(again.status != 0)
            #expect(again.stderr.contains("409 conflict: request \(first) is already final (cancelled)"), "\(again.stderr)")
            await device.shutdown()
        }
    }

    @Test
    func deadLettersAreListedAndReplayed() async throws {
        try await BridgeFixture.with(policy: Self.policy) { fixture in
            let device = try await Device.connect("ops-dead", to: fixture.broker)
            try await device.ask("failing", Data("boom".utf8), correlation: "f1")
            #expect(try await device.reply(to: "f1").status == 500)
            try await device.ask("telemetry.summary", Data("{not json".utf8), correlation: "j1")
            #expect(try await device.reply(to: "j1").status == 400)

            let table = try await fixture.courier(["deadletters", "list"])
            let lines = table.split(separator: "\n").map(String.init)
            try #require(lines.count == 3, "\(table)")
            #expect(Self.cells(lines[0]) == ["ID", "DEVICE", "OPERATION", "STATE", "REASON", "ATTEMPTS", "RECEIVED"])
            #expect(Self.cells(lines[1]).dropFirst().prefix(5) == ["ops-dead", "telemetry.summary", "rejected", "bad_request", "0"])
            #expect(Self.cells(lines[2]).dropFirst().prefix(5) == ["ops-dead", "failing", "failed", "worker_error", "1"])

            let page = try Self.object(try await fixture.courier(["deadletters", "list", "--json"]))
            let letters = try #require(page["deadLetters"] as? [[String: Any]])
            #expect(letters.map { $0["operation"] as? String } == ["telemetry.summary", "failing"])
            #expect(letters.last?["payload"] as? String == Data("boom".utf8).base64EncodedString())
            #expect(letters.last?["correlationData"] as? String == Data("f1".utf8).base64EncodedString())
            #expect(page.keys.contains("next"))

            // Replayed once the worker answers: the device gets the new result with its own
            // correlation data.
            fixture.worker.setPolicy(FakeWorker.echo)
            let failedID = try #require(letters.last?["id"] as? String)
            let replayed = try await fixture.courier(["deadletters", "replay", failedID])
            let newID = try #require(replayed.firstMatch(of: /^replayed (\S+) as (\S+); follow it with: courier requests show (\S+)\n$/), "\(replayed)")
            #expect(newID.1 == failedID)
            #expect(newID.2 != failedID && newID.3 == newID.2)
            let replies = try await device.replies(to: "f1", count: 2)
            #expect(replies.last?.status == 200 && replies.last?.text == "boom")

            // A replay is checked as a new request: the invalid JSON is refused again.
            let rejectedID = try #require(letters.first?["id"] as? String)
            let refused = try await fixture.run(["deadletters", "replay", rejectedID, "--json"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("400 bad_request"), "\(refused.stderr)")

            let unknown = try await fixture.run(["deadletters", "replay", String(newID.2)])
            #expect(unknown.status != 0)
            #expect(unknown.stderr.contains("404 not_found"), "\(unknown.stderr)")
            await device.shutdown()
        }
    }

    // MARK: Reading the output

    /// A table row's cells: columns are two or more spaces apart.
    static func cells(_ line: some StringProtocol) -> [String] {
        String(line).split(separator: #/  +/#).map(String.init)
    }

    /// `label  value` lines as a dictionary.
    static func fields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = String(line).split(separator: #/  +/#, maxSplits: 1).map(String.init)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }
}

extension BridgeFixture {
    /// The first bridge's HTTP API.
    var api: String {
        get async throws { try await bridge.httpAPI() }
    }

    /// Runs `courier arguments... --api` against this bridge.
    func run(_ arguments: [String]) async throws -> Command.Output {
        try await Command.run(CourierDaemon.binary, arguments + ["--api", try await api])
    }

    /// The stdout of `courier arguments...`, which must succeed.
    func courier(_ arguments: [String]) async throws -> String {
        let result = try await run(arguments)
        try #require(result.status == 0, "courier \(arguments.joined(separator: " ")): \(result.stderr)")
        return result.stdout
    }

    /// Asks `echo` with a payload the worker holds, and returns the request's id once it is
    /// dispatched.
    func dispatch(_ payload: String, correlation: String, from device: Device) async throws -> String {
        let before = try await requests(["--device", device.id, "--json"]).compactMap { $0["id"] as? String }
        try await device.ask("echo", Data(payload.utf8), correlation: correlation)
        var id: String?
        try await eventually("\(payload) dispatched") {
            let dispatched = try await requests(["--state", "dispatched", "--device", device.id, "--json"])
            id = dispatched.compactMap { $0["id"] as? String }.first { !before.contains($0) }
            return id != nil
        }
        return try #require(id)
    }

    /// The requests `courier requests list arguments...` prints as JSON.
    func requests(_ arguments: [String]) async throws -> [[String: Any]] {
        let page = try OperatorCommandTests.object(try await courier(["requests", "list"] + arguments))
        return try #require(page["requests"] as? [[String: Any]])
    }
}
