import CourierCore
import CourierEngine
import Foundation
import MQTT
import Testing

/// Commands to devices through the engine: admission, a device's answers, sends nobody took.
@Suite
struct CommandTests {
    var fixture: EngineFixture = {
        var fixture = EngineFixture()
        fixture.configuration.commands = [
            OperationConfig(name: "reboot", timeout: .seconds(30), attemptTimeout: .seconds(5), maxAttempts: 3, maxPayloadBytes: 8),
            OperationConfig(name: "set", content: .json, timeout: .seconds(30)),
        ]
        return fixture
    }()

    func http(_ command: String, _ payload: String = "x", key: String? = "k-1", device: String = "v1") -> Arrival {
        .command(CommandSubmission(
            device: device, command: command, payload: Data(payload.utf8), contentType: nil, idempotencyKey: key))
    }

    func mqtt(_ command: String, correlation: String = "b-1", expiry: UInt32? = nil) -> Arrival {
        .command(CommandSubmission(
            device: "v1", command: command, payload: Data("x".utf8), contentType: nil, responseTopic: "backend/answers",
            correlationData: Data(correlation.utf8), messageExpiry: expiry))
    }

    @Test func aCommandIsStoredAsTheFirstAttemptAndSentAtOnce() throws {
        let admitted = try #require(fixture.admit(http("reboot")).toStore)
        let record = admitted.record
        #expect(record.kind == .command && record.device == "v1" && record.operation == "reboot")
        #expect(record.state == .dispatched && record.attempts == 1)
        #expect(record.deadline == fixture.now + 30_000 && record.wakeAt == fixture.now + 5_000)
        #expect(record.identity == "c|v1|reboot|k-1")
        #expect(admitted.answersCaller)
        #expect(fixture.engine.stored(admitted, .accepted, now: fixture.now).dispatched == [record])
    }

    /// A command needs no worker: the device is its worker.
    @Test func noWorkerIsNeeded() throws {
        var fixture = fixture
        fixture.workers = []
        #expect(fixture.admit(http("reboot")).toStore != nil)
    }

    @Test func overMQTTTheDeadlineHonoursMessageExpiryAndTheIdentityIsTheCorrelation() throws {
        let admitted = try #require(fixture.admit(mqtt("reboot", expiry: 7)).toStore)
        #expect(admitted.record.deadline == fixture.now + 7_000)
        #expect(admitted.record.identity == "cm|v1|reboot|\(Data("b-1".utf8).base64EncodedString())")
        #expect(!admitted.answersCaller)
    }

    @Test func badCommandsAreRefusedToWhoeverSentThem() throws {
        #expect(fixture.admit(http("selfdestruct")).effects?.responses == [.refused(.unknownOperation, message: "command selfdestruct is not configured")])
        #expect(fixture.admit(http("reboot", "far too long")).effects?.responses.first.map { if case .refused(.payloadTooLarge, _) = $0 { true } else { false } } == true)
        #expect(fixture.admit(http("set", "{not json")).effects?.responses.first.map { if case .refused(.badRequest, _) = $0 { true } else { false } } == true)
        #expect(fixture.admit(http("reboot", device: "no/such")).effects?.responses.first.map { if case .refused(.badRequest, _) = $0 { true } else { false } } == true)
        let overMQTT = try #require(fixture.admit(mqtt("selfdestruct")).effects?.replies.first)
        #expect(overMQTT.topic == "backend/answers" && overMQTT.status == 404 && overMQTT.correlationData == Data("b-1".utf8))
    }

    /// A command's final answer goes to the backend that sent it over MQTT, never to the device.
    @Test func theAnswerGoesToTheSubmitter() throws {
        var record = try #require(fixture.admit(mqtt("reboot")).toStore).record
        record.state = .completed
        record.replyStatus = 200
        record.replyPayload = Data("done".utf8)
        let reply = try #require(DeviceReply.final(for: record, topics: Topics()))
        #expect(reply.topic == "backend/answers" && reply.correlationData == Data("b-1".utf8) && !reply.statusInTopic)
        let overHTTP = try #require(fixture.admit(http("reboot")).toStore).record
        #expect(DeviceReply.final(for: overHTTP, topics: Topics()) == nil)
    }

    @Test func onlyTheCommandsOwnDeviceAnswersIt() throws {
        let record = try #require(fixture.admit(http("reboot")).toStore).record
        func answer(_ record: RequestRecord?, device: String = "v1", command: String = "reboot", status: Int = 200) -> [Effect] {
            fixture.engine.deviceAnswered(
                record, device: device, command: command, status: status, percent: nil, payload: Data("ok".utf8), contentType: nil,
                userProperties: [], now: fixture.now)
        }
        #expect(answer(record, device: "v2").counts == [.ignoredCommandReply])
        #expect(answer(record, command: "set").counts == [.ignoredCommandReply])
        #expect(answer(nil).counts == [.ignoredCommandReply])
        var request = record
        request.kind = .request
        #expect(answer(request).counts == [.ignoredCommandReply], "a request's id is no command id")
        #expect(answer(record).finished.first?.reply.status == 200)
        #expect(answer(record, status: 202) == [.extendAttempt(id: record.id, attempt: 1, wakeAt: fixture.now + 5_000, acknowledged: true)])
    }

    /// A device that is not subscribed yet is no reason to give up: the attempt timer sends again.
    @Test func aSendNobodyTookIsLeftToTheAttemptTimer() {
        #expect(fixture.engine.commandSent(id: "c", command: "reboot", .noWorker).finished.isEmpty)
        #expect(fixture.engine.commandSent(id: "c", command: "reboot", .failed("too big", permanent: true)).finished.first?.reply.status == 400)
    }
}
