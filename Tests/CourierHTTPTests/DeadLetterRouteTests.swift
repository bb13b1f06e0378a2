import CourierBridge
import CourierCore
import CourierHTTP
import CourierStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("/v1/deadletters", .timeLimit(.minutes(2)))
struct DeadLetterRouteTests {
    @Test("a failed request is listed as a dead letter and replays as a new request")
    func listAndReplay() async throws {
        try await HTTPHarness.run { _, client in
            let payload = Data("please".utf8)
            let failed = try await client.send(.post, "/v1/operations/test.flaky?device=d9", headers: [.prefer: "wait=10"], bytes: payload)
            #expect(failed.status == .internalServerError)
            #expect(failed.errorBody?.error.code == "worker_error")
            let failedID = try #require(failed.headers[.location]?.split(separator: "/").last.map(String.init))

            let ok = try await client.send(.post, "/v1/operations/echo?device=d9", headers: [.prefer: "wait=10"], body: "fine")
            #expect(ok.status == .ok)
            let okID = try #require(ok.headers[.location]?.split(separator: "/").last.map(String.init))

            let other = try await client.send(.post, "/v1/operations/test.flaky?device=d8", headers: [.prefer: "wait=10"], body: "other")
            #expect(other.status == .internalServerError)
            let otherID = try #require(other.headers[.location]?.split(separator: "/").last.map(String.init))

            let listing = try await client.send(.get, "/v1/deadletters")
            #expect(listing.status == .ok)
            let page: DeadLetterPage = try listing.decode()
            #expect(page.next == nil)
            #expect(page.deadLetters.map(\.id) == [otherID, failedID])
            let letter = try #require(page.deadLetters.last)
            #expect(letter.device == "d9")
            #expect(letter.operation == "test.flaky")
            #expect(letter.state == "failed")
            #expect(letter.reason == "worker_error")
            #expect(letter.attempts == 1)
            #expect(Data(base64Encoded: letter.payload) == payload)

            let replay = try await client.send(.post, "/v1/deadletters/\(failedID)/replay")
            #expect(replay.status == .accepted)
            let copy: RequestStatus = try replay.decode()
            #expect(copy.id != failedID)
            #expect(replay.headers[.location] == "/v1/requests/\(copy.id)")
            #expect(copy.reason == "replay of \(failedID)")
            let final = try await finalStatus(client, id: copy.id)
            #expect(final.replyStatus == 200)
            let result = try await client.send(.get, "/v1/requests/\(copy.id)/result")
            #expect(result.text == "recovered")

            let notDead = try await client.send(.post, "/v1/deadletters/\(okID)/replay")
            #expect(notDead.status == .notFound)
            #expect(notDead.errorBody?.error.code == "not_found")
            let unknown = try await client.send(.post, "/v1/deadletters/nope/replay")
            #expect(unknown.status == .notFound)

            let paged: DeadLetterPage = try await client.send(.get, "/v1/deadletters?limit=1").decode()
            #expect(paged.deadLetters.map(\.id) == [otherID])
            let next = try #require(paged.next)
            let second: DeadLetterPage = try await client.send(.get, "/v1/deadletters?limit=1&cursor=\(next)").decode()
            #expect(second.deadLetters.map(\.id) == [failedID])
            #expect(second.next == nil)
        }
    }

    /// A replay is checked as a new request is: a 413's stored prefix, bad JSON, no worker.
    @Test("a dead letter that cannot run is refused on replay, and nothing is stored")
    func replayChecksTheRequestAgain() async throws {
        try await HTTPHarness.run { harness, client in
            func deadLetter(_ operation: String, reason: ReplyCode, payload: Data) throws -> String {
                var record = RequestRecord(
                    id: RequestRecord.newID(), device: "d7", operation: operation, deviceProtocol: .mqtt5,
                    payload: payload, state: .rejected, receivedAt: unixMillis(), deadline: unixMillis()
                )
                record.reason = reason.rawValue
                _ = try harness.store.accept(record, maxPendingPerDevice: .max, maxPendingTotal: .max)
                return record.id
            }
            let truncated = try deadLetter("echo", reason: .payloadTooLarge, payload: Data(repeating: 0x61, count: 262_144))
            let badJSON = try deadLetter("telemetry.summary", reason: .badRequest, payload: Data("{nope".utf8))
            let before = try harness.store.list(RequestQuery(limit: 100)).records.count

            let tooLarge = try await client.send(.post, "/v1/deadletters/\(truncated)/replay")
            #expect(tooLarge.status == .contentTooLarge)
            #expect(tooLarge.errorBody?.error.code == "payload_too_large")
            let invalid = try await client.send(.post, "/v1/deadletters/\(badJSON)/replay")
            #expect(invalid.status == .badRequest)
            #expect(invalid.errorBody?.error.code == "bad_request")
            #expect(try harness.store.list(RequestQuery(limit: 100)).records.count == before)
            #expect(harness.bridge.refusals == 2)
        }
    }
}
