import CourierCore
import Foundation
import Testing

@Suite
struct RequestIntakeTests {
    let intake: RequestIntake = {
        var configuration = CourierConfiguration()
        configuration.operations = [
            OperationConfig(name: "echo", timeout: .seconds(10), maxPayloadBytes: 8),
            OperationConfig(name: "sum", content: .json, timeout: .seconds(5)),
        ]
        return RequestIntake(configuration: configuration)
    }()

    func request(_ topic: String, payload: String = "x", responseTopic: String? = "devices/d1/replies/r", correlation: String? = "c1", expiry: UInt32? = nil) -> IncomingRequest {
        IncomingRequest(
            topic: topic,
            payload: Data(payload.utf8),
            responseTopic: responseTopic,
            correlationData: correlation.map { Data($0.utf8) },
            messageExpiry: expiry
        )
    }

    @Test
    func aValidMQTT5RequestIsAcceptedWithItsIdentityAndDeadline() throws {
        guard case .accept(let record) = intake.evaluate(request("devices/d1/requests/echo"), now: 1_000) else {
            Issue.record("not accepted")
            return
        }
        #expect(record.deviceProtocol == .mqtt5)
        #expect(record.identity == "m5|d1|\(Data("c1".utf8).base64EncodedString())")
        #expect(record.deadline == 11_000)
        #expect(record.id.count == 44)
    }

    @Test
    func messageExpiryShortensTheDeadline() {
        guard case .accept(let record) = intake.evaluate(request("devices/d1/requests/echo", expiry: 2), now: 1_000) else {
            Issue.record("not accepted")
            return
        }
        #expect(record.deadline == 3_000)
    }

    @Test
    func aFiveLevelRequestWithoutResponseTopicIsMQTT311() {
        guard case .accept(let record) = intake.evaluate(request("devices/d1/requests/echo/r-9", responseTopic: nil, correlation: nil), now: 0) else {
            Issue.record("not accepted")
            return
        }
        #expect(record.deviceProtocol == .mqtt311)
        #expect(record.requestId == "r-9")
        #expect(record.identity == "m3|d1|echo|r-9")
    }

    @Test(arguments: [
        ("devices/d1/requests/nope", ReplyCode.unknownOperation),
        ("devices/d1/requests/bad op", .badRequest),
        ("devices/d1/requests/echo/bad id!", .badRequest),
    ])
    func invalidRequestsAreRejectedWithTheirCode(topic: String, code: ReplyCode) {
        guard case .reject(let record, let got, _) = intake.evaluate(request(topic), now: 0) else {
            Issue.record("not rejected")
            return
        }
        #expect(got == code)
        #expect(record.state == .rejected)
    }

    @Test
    func sizesAndContentAreChecked() {
        if case .reject(let record, let code, _) = intake.evaluate(request("devices/d1/requests/echo", payload: "123456789"), now: 0) {
            #expect(code == .payloadTooLarge)
            #expect(record.payload == Data("12345678".utf8))  // kept only up to the limit
        } else {
            Issue.record("oversized payload accepted")
        }
        if case .reject(_, let code, _) = intake.evaluate(request("devices/d1/requests/sum", payload: "{nope"), now: 0) {
            #expect(code == .badRequest)
        } else {
            Issue.record("bad JSON accepted")
        }
        if case .reject(_, let code, _) = intake.evaluate(request("devices/d1/requests/echo", correlation: String(repeating: "x", count: 65)), now: 0) {
            #expect(code == .badRequest)
        } else {
            Issue.record("long correlation data accepted")
        }
    }

    @Test(arguments: ["devices/d2/replies/r", "devices/d1/replies/#", "devices/d1/requests/echo", "$SYS/broker", "devices/d1/replies/"])
    func aForbiddenResponseTopicIsRejectedAndNeverKept(responseTopic: String) {
        guard case .reject(let record, let code, _) = intake.evaluate(request("devices/d1/requests/echo", responseTopic: responseTopic), now: 0) else {
            Issue.record("not rejected")
            return
        }
        #expect(code == .forbiddenResponseTopic)
        #expect(record.responseTopic == nil)
        #expect(DeviceReply.final(for: record, topics: Topics()) == nil)
    }

    @Test(arguments: ["elsewhere/d1/requests/echo", "devices/bad device/requests/echo", "devices/d1/requests"])
    func unaddressableRequestsAreDropped(topic: String) {
        guard case .drop = intake.evaluate(request(topic), now: 0) else {
            Issue.record("not dropped")
            return
        }
    }

    @Test
    func repliesCarryStatusErrorAndTraceparent() throws {
        var record = RequestRecord(id: "i", device: "d1", operation: "echo", deviceProtocol: .mqtt5, correlationData: Data([1, 2]), responseTopic: "devices/d1/replies/r", userProperties: [.init("traceparent", "00-ab-cd-01")], receivedAt: 0, deadline: 0)
        let reply = try #require(DeviceReply.make(for: record, status: 504, code: "timeout", payload: Data(), contentType: "application/json", topics: Topics()))
        #expect(reply.topic == "devices/d1/replies/r")
        #expect(reply.correlationData == Data([1, 2]))
        #expect(reply.userProperties == [.init("status", "504"), .init("error", "timeout"), .init("traceparent", "00-ab-cd-01")])
        record.deviceProtocol = .mqtt311
        record.requestId = "r1"
        #expect(DeviceReply.make(for: record, status: 200, code: "ok", payload: Data(), contentType: nil, topics: Topics())?.topic == "devices/d1/replies/echo/r1/200")
    }
}
