import CourierCore
import CourierTesting
import CourierHTTP
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("POST /v1/operations", .timeLimit(.minutes(2)))
struct OperationRouteTests {
    @Test("echo with Prefer: wait answers 200 with the same bytes and content type")
    func echoWithWait() async throws {
        try await HTTPHarness.run { _, client in
            let bytes = Data([0x00, 0xff, 0x10, 0x80, 0x7f] + Array("hello".utf8))
            let response = try await client.send(
                .post, "/v1/operations/echo?device=d1",
                headers: [.contentType: "application/x-test", .prefer: "wait=10"],
                bytes: bytes
            )
            #expect(response.status == .ok)
            #expect(response.data == bytes)
            #expect(response.headers[.contentType] == "application/x-test")
            #expect(response.header("Courier-Status") == "200")
            #expect(response.headers[.location]?.hasPrefix("/v1/requests/") == true)
        }
    }

    @Test("POST answers 202 with Location; the status then the result follow it")
    func submitThenStatusThenResult() async throws {
        try await HTTPHarness.run { _, client in
            let body = #"{"sensor":"temp","readings":[1,2,3,4]}"#
            let accepted = try await client.send(.post, "/v1/operations/telemetry.summary?device=d1", headers: .json, body: body)
            #expect(accepted.status == .accepted)
            #expect(accepted.headers[.retryAfter] == "1")
            let status: RequestStatus = try accepted.decode()
            #expect(accepted.headers[.location] == "/v1/requests/\(status.id)")
            #expect(status.device == "d1")
            #expect(status.operation == "telemetry.summary")
            #expect(status.replyStatus == nil)

            var final = try await finalStatus(client, id: status.id)
            // Completed first; delivered once the mark (nothing to publish over HTTP) is
            // committed with the next batch or within a tick of the timer loop.
            try await eventually("delivered") {
                final = try await client.send(.get, "/v1/requests/\(status.id)").decode()
                return final.state == .delivered
            }
            #expect(final.replyStatus == 200)
            #expect(final.attempts == 1)
            #expect(final.receivedAt <= final.updatedAt)
            #expect(final.deadline > final.receivedAt)

            let result = try await client.send(.get, "/v1/requests/\(status.id)/result")
            #expect(result.status == .ok)
            #expect(result.headers[.contentType] == "application/json")
            let summary = try JSONSerialization.jsonObject(with: result.data) as? [String: Any]
            #expect(summary?["count"] as? Int == 4)
            #expect(summary?["mean"] as? Double == 2.5)
        }
    }

    @Test("the status JSON spells absent values as null")
    func statusNulls() async throws {
        try await HTTPHarness.run { harness, client in
            let accepted = try await client.send(.post, "/v1/operations/test.gated?device=d1", body: "x")
            let status: RequestStatus = try accepted.decode()
            let fetched = try await client.send(.get, "/v1/requests/\(status.id)")
            let json = try #require(try JSONSerialization.jsonObject(with: fetched.data) as? [String: Any])
            #expect(Set(json.keys) == ["id", "device", "operation", "state", "attempts", "receivedAt", "updatedAt", "deadline", "replyStatus", "replyCode", "deliveredAt", "reason",
                "progress", "kind", "commandState"])
            #expect(json["replyStatus"] is NSNull && json["progress"] is NSNull && json["commandState"] is NSNull)
            #expect(json["kind"] as? String == "request")
            harness.gate.open()
        }
    }

    @Test("the same Idempotency-Key gives the same request; another key a new one")
    func idempotencyKey() async throws {
        try await HTTPHarness.run { _, client in
            let first = try await client.send(.post, "/v1/operations/echo?device=d1", headers: [.idempotencyKey: "order-42"], body: "a")
            let again = try await client.send(.post, "/v1/operations/echo?device=d1", headers: [.idempotencyKey: "order-42"], body: "a")
            let other = try await client.send(.post, "/v1/operations/echo?device=d1", headers: [.idempotencyKey: "order-43"], body: "a")
            #expect(first.status == .accepted)
            #expect(again.status == .accepted)
            let firstID = try first.decode(RequestStatus.self).id
            #expect(try again.decode(RequestStatus.self).id == firstID)
            #expect(again.headers[.location] == "/v1/requests/\(firstID)")
            #expect(try other.decode(RequestStatus.self).id != firstID)

            // Once final, a duplicate with Prefer: wait gets the stored result at once.
            _ = try await finalStatus(client, id: firstID)
            let late = try await client.send(.post, "/v1/operations/echo?device=d1", headers: [.idempotencyKey: "order-42", .prefer: "wait=5"], body: "a")
            #expect(late.status == .ok)
            #expect(late.text == "a")
            #expect(late.headers[.location] == "/v1/requests/\(firstID)")

            let bad = try await client.send(.post, "/v1/operations/echo?device=d1", headers: [.idempotencyKey: "no spaces"], body: "a")
            #expect(bad.status == .badRequest)
        }
    }

    @Test("an Idempotency-Key used again with a different body is refused with 422")
    func idempotencyKeyReusedWithAnotherBody() async throws {
        try await HTTPHarness.run { _, client in
            let first = try await client.send(.post, "/v1/operations/echo?device=d1", headers: [.idempotencyKey: "order-7"], body: "a")
            let id = try first.decode(RequestStatus.self).id
            let reused = try await client.send(.post, "/v1/operations/echo?device=d1", headers: [.idempotencyKey: "order-7"], body: "b")
            #expect(reused.status == .unprocessableContent)
            #expect(reused.headers[.contentType] == "application/json")
            let error = try #require(reused.errorBody?.error, "\(reused.text)")
            #expect(error.status == 422)
            #expect(error.code == "idempotency_key_reused")
            #expect(error.message.contains(id), "\(error.message)")
            #expect(reused.headers[.location] == nil)

            // The original is untouched and the same body is still its duplicate; the key is
            // free for another device.
            let result = try await client.send(.post, "/v1/operations/echo?device=d1", headers: [.idempotencyKey: "order-7", .prefer: "wait=5"], body: "a")
            #expect(result.status == .ok)
            #expect(result.text == "a")
            #expect(result.headers[.location] == "/v1/requests/\(id)")
            let other = try await client.send(.post, "/v1/operations/echo?device=d2", headers: [.idempotencyKey: "order-7"], body: "b")
            #expect(other.status == .accepted)
            #expect(try other.decode(RequestStatus.self).id != id)
            let page: RequestPage = try await client.send(.get, "/v1/requests?device=d1").decode()
            #expect(page.requests.map(\.id) == [id])
        }
    }

    @Test("refusals carry the contract's status and ErrorBody")
    func refusals() async throws {
        try await HTTPHarness.run { _, client in
            let unknown = try await client.send(.post, "/v1/operations/nope?device=d1", body: "x")
            #expect(unknown.status == .notFound)
            #expect(unknown.errorBody?.error.code == "unknown_operation")
            #expect(unknown.errorBody?.error.status == 404)

            let noDevice = try await client.send(.post, "/v1/operations/echo", body: "x")
            #expect(noDevice.status == .badRequest)
            #expect(noDevice.errorBody?.error.code == "bad_request")

            let badDevice = try await client.send(.post, "/v1/operations/echo?device=a%2Fb", body: "x")
            #expect(badDevice.status == .badRequest)

            let badJSON = try await client.send(.post, "/v1/operations/telemetry.summary?device=d1", headers: .json, body: "{not json")
            #expect(badJSON.status == .badRequest)
            #expect(badJSON.errorBody?.error.code == "bad_request")
            #expect(badJSON.headers[.contentType] == "application/json")

            let limit = try #require(HTTPHarness.operations.first { $0.name == "echo" }).maxPayloadBytes
            let tooLarge = try await client.send(.post, "/v1/operations/echo?device=d1", bytes: Data(repeating: 0x61, count: limit + 1))
            #expect(tooLarge.status == .contentTooLarge)
            #expect(tooLarge.errorBody?.error.code == "payload_too_large")

            let atLimit = try await client.send(.post, "/v1/operations/echo?device=d1", headers: [.prefer: "wait=10"], bytes: Data(repeating: 0x61, count: limit))
            #expect(atLimit.status == .ok)
            #expect(atLimit.data.count == limit)
        }
    }

    @Test("Prefer: wait answers 202 with the status when the request is not done in time")
    func waitTimesOut() async throws {
        try await HTTPHarness.run { harness, client in
            let started = ContinuousClock.now
            let response = try await client.send(.post, "/v1/operations/test.gated?device=d1", headers: [.prefer: "wait=1"], body: "x")
            #expect(ContinuousClock.now - started >= .seconds(1))
            #expect(response.status == .accepted)
            let status: RequestStatus = try response.decode()
            #expect(!status.state.isFinal)
            harness.gate.open()
            let final = try await finalStatus(client, id: status.id)
            #expect(final.replyStatus == 200)
        }
    }
}
