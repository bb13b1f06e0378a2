import CourierCore
import CourierHTTP
import CourierTesting
import Foundation
import Hummingbird
import MQTT
import HummingbirdTesting
import Testing

@Suite("/v1/requests", .timeLimit(.minutes(2)))
struct RequestRouteTests {
    @Test("an unknown id is 404 not_found for status, result and cancel")
    func unknownID() async throws {
        try await HTTPHarness.run { _, client in
            for (method, uri) in [(HTTPRequest.Method.get, "/v1/requests/nope"), (.get, "/v1/requests/nope/result"), (.delete, "/v1/requests/nope")] {
                let response = try await client.send(method, uri)
                #expect(response.status == .notFound, "\(method) \(uri)")
                #expect(response.errorBody?.error.code == "not_found", "\(method) \(uri)")
            }
            let noRoute = try await client.send(.get, "/v1/nothing-here")
            #expect(noRoute.status == .notFound)
            #expect(noRoute.errorBody?.error.code == "not_found")
        }
    }

    @Test("in process: a handler's progress is in the status JSON, and a cancel cancels the handler's task")
    func progressAndCancellationInProcess() async throws {
        try await HTTPHarness.run { harness, client in
            let accepted = try await client.send(.post, "/v1/operations/test.long?device=d1", body: "go")
            let id = try accepted.decode(RequestStatus.self).id
            var status = try await client.send(.get, "/v1/requests/\(id)").decode(RequestStatus.self)
            try await eventually("progress reported") {
                status = try await client.send(.get, "/v1/requests/\(id)").decode(RequestStatus.self)
                return status.progress != nil
            }
            #expect(status.progress?.percent == 30 && status.progress?.message == "a third")
            #expect(try await client.send(.delete, "/v1/requests/\(id)").status == .ok)
            try await eventually("the handler saw the cancellation") { harness.long.cancelled == 1 }
            let result = try await client.send(.get, "/v1/requests/\(id)/result")
            #expect(result.status.code == 410)
        }
    }

    @Test("in process: a device's cancel over MQTT cancels the handler's task, and the device gets 410")
    func deviceCancelStopsTheHandler() async throws {
        try await HTTPHarness.run { harness, _ in
            let device = try await harness.broker.connectedClient("d-cancel")
            let replies = MessageInbox.draining(device)
            try await device.subscribe("devices/d-cancel/replies/#")
            try await device.publish(
                "devices/d-cancel/requests/test.long", payload: Data("go".utf8),
                properties: .init(responseTopic: "devices/d-cancel/replies/x", correlationData: Data("job-1".utf8)))
            let progress = try await replies.wait { $0.properties.userProperty("status") == "102" }
            #expect(progress.first?.properties.userProperty("progress") == "30")
            try await device.publish("devices/d-cancel/cancel", payload: Data(), properties: .init(correlationData: Data("job-1".utf8)))
            let final = try await replies.wait { $0.properties.userProperty("status") == "410" }
            #expect(final.first?.properties.correlationData == Data("job-1".utf8))
            try await eventually("the handler saw the cancellation") { harness.long.cancelled == 1 }
            await device.shutdown()
        }
    }

    @Test("cancelling a pending request: 200, then the result is 410 and a second cancel 409")
    func cancelPending() async throws {
        try await HTTPHarness.run { harness, client in
            let accepted = try await client.send(.post, "/v1/operations/test.gated?device=d1", body: "hold")
            let id = try accepted.decode(RequestStatus.self).id
            try await eventually("handler running") { harness.gate.entered == 1 }

            let pending = try await client.send(.get, "/v1/requests/\(id)/result")
            #expect(pending.status == .accepted)
            #expect(try pending.decode(RequestStatus.self).state == .dispatched)

            let cancelled = try await client.send(.delete, "/v1/requests/\(id)")
            #expect(cancelled.status == .ok)
            let status: RequestStatus = try cancelled.decode()
            #expect(status.state == .cancelled)
            #expect(status.replyStatus == 410)

            let result = try await client.send(.get, "/v1/requests/\(id)/result")
            #expect(result.status == .gone)
            #expect(result.errorBody?.error.code == "cancelled")
            #expect(result.header("Courier-Status") == "410")
            #expect(result.header("Courier-Error") == "cancelled")
            #expect(result.header("Courier-State") == "cancelled")

            let again = try await client.send(.delete, "/v1/requests/\(id)")
            #expect(again.status == .conflict)
            #expect(again.errorBody?.error.code == "conflict")

            // The worker's late answer changes nothing.
            harness.gate.open()
            try await eventually("worker idle") { harness.pool.inFlight == 0 }
            #expect(try await client.send(.get, "/v1/requests/\(id)/result").status == .gone)
        }
    }

    @Test("listing filters by device, operation and state, newest first, in pages")
    func listAndPage() async throws {
        try await HTTPHarness.run { _, client in
            var ids: [String] = []
            for index in 0..<5 {
                let response = try await client.send(.post, "/v1/operations/echo?device=lister", headers: [.prefer: "wait=10"], body: "\(index)")
                #expect(response.status == .ok)
                ids.append(try #require(response.headers[.location]?.split(separator: "/").last.map(String.init)))
            }
            _ = try await client.send(.post, "/v1/operations/telemetry.summary?device=lister", headers: [.contentType: "application/json", .prefer: "wait=10"], body: #"{"sensor":"t","readings":[1]}"#)
            _ = try await client.send(.post, "/v1/operations/echo?device=other", headers: [.prefer: "wait=10"], body: "x")

            var seen: [RequestStatus] = []
            var cursor: String?
            var pages = 0
            repeat {
                let uri = "/v1/requests?device=lister&operation=echo&limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let response = try await client.send(.get, uri)
                #expect(response.status == .ok)
                let page: RequestPage = try response.decode()
                #expect(page.requests.count <= 2)
                seen += page.requests
                cursor = page.next
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 3)
            #expect(seen.map(\.id).sorted() == ids.sorted())
            #expect(Set(seen.map(\.id)).count == 5)
            #expect(seen.allSatisfy { $0.device == "lister" && $0.operation == "echo" })
            let order = seen.map(\.receivedAt)
            #expect(order == order.sorted(by: >))

            let lastPage = try await client.send(.get, "/v1/requests?device=lister&operation=echo&limit=5")
            let json = try #require(try JSONSerialization.jsonObject(with: lastPage.data) as? [String: Any])
            #expect(json["next"] is NSNull)

            let byDevice: RequestPage = try await client.send(.get, "/v1/requests?device=lister").decode()
            #expect(byDevice.requests.count == 6)
            let delivered: RequestPage = try await client.send(.get, "/v1/requests?state=delivered&device=other").decode()
            #expect(delivered.requests.count == 1)
            let cancelled: RequestPage = try await client.send(.get, "/v1/requests?state=cancelled").decode()
            #expect(cancelled.requests.isEmpty)
            let all: RequestPage = try await client.send(.get, "/v1/requests").decode()
            #expect(all.requests.count == 7)
            #expect(all.next == nil)
        }
    }

    @Test("bad list parameters are 400")
    func badListParameters() async throws {
        try await HTTPHarness.run { _, client in
            for query in ["state=nonsense", "limit=0", "limit=1001", "limit=ten", "cursor=garbage", "cursor=12-"] {
                let response = try await client.send(.get, "/v1/requests?\(query)")
                #expect(response.status == .badRequest, "\(query)")
                #expect(response.errorBody?.error.code == "bad_request", "\(query)")
            }
            for query in ["limit=0", "cursor=garbage"] {
                let response = try await client.send(.get, "/v1/deadletters?\(query)")
                #expect(response.status == .badRequest, "deadletters \(query)")
            }
        }
    }
}
