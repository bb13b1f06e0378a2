import CourierCore
import CourierEngine
import Foundation
import Testing

/// Admission of device requests over MQTT: every way in, every code the contract names.
@Suite
struct AdmissionTests {
    @Test
    func aValidRequestIsStoredAsItsFirstAttemptAndDispatchedOnceStored() throws {
        let fixture = EngineFixture()
        let admitted = try #require(fixture.admit(EngineFixture.device()).toStore)
        #expect(admitted.record.state == .dispatched && admitted.record.attempts == 1)
        #expect(admitted.record.deadline == fixture.now + 10_000)
        #expect(admitted.record.wakeAt == fixture.now + 3_000)  // the attempt timeout
        #expect(admitted.record.identity == "m5|d1|\(Data("c1".utf8).base64EncodedString())")
        let effects = fixture.engine.stored(admitted, .accepted, now: fixture.now)
        #expect(effects == [.dispatch(admitted.record)])
    }

    @Test
    func theMessageExpiryShortensTheDeadlineAndTheLastAttemptRunsToIt() throws {
        var fixture = EngineFixture()
        fixture.configuration.operations[0].maxAttempts = 1
        let admitted = try #require(fixture.admit(EngineFixture.device(expiry: 2)).toStore)
        #expect(admitted.record.deadline == fixture.now + 2_000)
        #expect(admitted.record.wakeAt == admitted.record.deadline)
    }

    @Test
    func anOperationThatAcknowledgesAnswers202BeforeDispatching() throws {
        let fixture = EngineFixture()
        let admitted = try #require(fixture.admit(EngineFixture.device("d1", "slow")).toStore)
        let effects = fixture.engine.stored(admitted, .accepted, now: fixture.now)
        #expect(effects.replies.map(\.status) == [202])
        #expect(effects.dispatched == [admitted.record])
        #expect(effects.replies[0].correlationData == Data("c1".utf8))
    }

    @Test
    func whileStoppingARequestIsStoredForTheNextStartButNotDispatched() throws {
        var fixture = EngineFixture()
        fixture.stopping = true
        let admitted = try #require(fixture.admit(EngineFixture.device()).toStore)
        #expect(admitted.record.state == .received && admitted.record.attempts == 0)
        #expect(admitted.record.wakeAt == fixture.now)
        #expect(fixture.engine.stored(admitted, .accepted, now: fixture.now).isEmpty)
    }

    @Test
    func withoutAWorkerTheRequestIsRefused503UnlessItIsADuplicate() throws {
        var fixture = EngineFixture()
        fixture.workers = []
        let asked = try #require(fixture.admit(EngineFixture.device()).toLookUp)
        let refused = fixture.engine.withoutWorker(asked, existing: nil)
        #expect(refused.replies.map(\.status) == [503] && refused.replies[0].errorCode == "no_worker")
        #expect(refused.counts.contains(.refusal) && refused.counts.contains(.rejection("no_worker")))

        var original = asked.record
        original.state = .completed
        original.replyStatus = 200
        original.replyPayload = Data("first".utf8)
        let duplicate = fixture.engine.withoutWorker(asked, existing: original)
        #expect(duplicate.replies.map(\.text) == ["first"])
        #expect(duplicate.counts == [.duplicate])
    }

    @Test
    func aDuplicateGetsTheStoredFinalReplyOnItsOwnResponseTopicAnd202WhileInProgress() throws {
        let fixture = EngineFixture()
        let again = try #require(fixture.admit(EngineFixture.device(responseTopic: "devices/d1/replies/again")).toStore)
        var original = again.record
        original.id = "original"
        original.responseTopic = "devices/d1/replies/first"
        original.state = .dispatched

        let inProgress = fixture.engine.stored(again, .duplicate(original), now: fixture.now)
        #expect(inProgress.replies.map(\.status) == [202])
        #expect(inProgress.replies[0].topic == "devices/d1/replies/again")
        #expect(inProgress.dispatched.isEmpty)

        original.state = .failed
        original.replyStatus = 500
        original.replyCode = "worker_error"
        let final = fixture.engine.stored(again, .duplicate(original), now: fixture.now)
        #expect(final.replies.map(\.status) == [500] && final.replies[0].errorCode == "worker_error")
        #expect(final.replies[0].topic == "devices/d1/replies/again")
        #expect(final.counts == [.duplicate])
    }

    @Test(arguments: [
        (AcceptOutcome.deviceOverQuota(pending: 4), 429, "busy"),
        (AcceptOutcome.totalOverQuota(pending: 100_000), 503, "unavailable"),
        (nil, 503, "unavailable"),
    ] as [(AcceptOutcome?, Int, String)])
    func quotasAndAFailedStoreRefuseWithTheContractsCode(outcome: AcceptOutcome?, status: Int, code: String) throws {
        let fixture = EngineFixture()
        let admitted = try #require(fixture.admit(EngineFixture.device()).toStore)
        let effects = fixture.engine.stored(admitted, outcome, now: fixture.now)
        #expect(effects.replies.map(\.status) == [status] && effects.replies[0].errorCode == code)
        #expect(effects.dispatched.isEmpty)
        #expect(effects.counts.contains(.refusal))
    }

    @Test
    func aTopicThatIsNotARequestIsDroppedCountedAndLogged() throws {
        let fixture = EngineFixture()
        let effects = try #require(fixture.admit(.device(IncomingRequest(topic: "devices/d1/other", payload: Data()))).effects)
        #expect(effects.counts == [.rejection("malformed_topic")])
        #expect(effects.replies.isEmpty)
        #expect(effects.logLines.map(\.message) == ["request dropped"])
    }

    @Test(arguments: [
        ("echo", "12345678901234567", 413, "payload_too_large"),
        ("sum", "{not json", 400, "bad_request"),
        ("nope", "x", 404, "unknown_operation"),
    ])
    func anInvalidRequestIsAnsweredWithItsCodeAndKeptAsADeadLetter(operation: String, payload: String, status: Int, code: String) throws {
        let fixture = EngineFixture()
        let admitted = try #require(fixture.admit(EngineFixture.device("d1", operation, payload: payload)).toStore)
        #expect(admitted.record.state == .rejected && admitted.record.reason == code)
        let effects = fixture.engine.stored(admitted, .accepted, now: fixture.now)
        #expect(effects.replies.map(\.status) == [status] && effects.replies[0].errorCode == code)
        #expect(effects.contains(.deadLetter(admitted.record)))
        #expect(effects.counts.contains(.rejection(code)) && effects.counts.contains(.deadLetter))
        #expect(effects.logLines.map(\.message) == ["request finished"])
        if status == 413 { #expect(admitted.record.payload.count == 16) }  // only what the limit allows
    }

    @Test
    func aForbiddenResponseTopicGetsNoReplyAndIsDeliveredAtOnce() throws {
        let fixture = EngineFixture()
        let admitted = try #require(fixture.admit(EngineFixture.device(responseTopic: "devices/d2/replies/x")).toStore)
        #expect(admitted.record.responseTopic == nil && admitted.record.deliveredAt == fixture.now)
        let effects = fixture.engine.stored(admitted, .accepted, now: fixture.now)
        #expect(effects.replies.isEmpty)
        #expect(effects.counts.contains(.rejection("forbidden_response_topic")))
        #expect(effects.contains(.deadLetter(admitted.record)))
    }

    @Test
    func anMQTT311DeviceIsAnsweredOnTheTopicConventionWithTheStatusLast() throws {
        var fixture = EngineFixture()
        fixture.workers = []
        let asked = try #require(fixture.admit(EngineFixture.legacy()).toLookUp)
        #expect(asked.record.deviceProtocol == .mqtt311 && asked.record.identity == "m3|d3|echo|r1")
        let effects = fixture.engine.withoutWorker(asked, existing: nil)
        #expect(effects.replies.map(\.topic) == ["devices/d3/replies/echo/r1/503"])
    }

    @Test
    func oversizedCorrelationDataIsABadRequest() throws {
        let fixture = EngineFixture()
        let admitted = try #require(fixture.admit(EngineFixture.device(correlation: String(repeating: "c", count: 65))).toStore)
        #expect(admitted.record.reason == "bad_request")
    }
}
