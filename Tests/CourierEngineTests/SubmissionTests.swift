import CourierCore
import CourierEngine
import Foundation
import Testing

/// HTTP submissions and replays go through the same admission as device requests; their
/// answer goes back to the caller, and nothing refused is stored.
@Suite
struct SubmissionTests {
    @Test
    func anHTTPSubmissionIsStoredDispatchedAndTheCallerHearsAccepted() throws {
        let fixture = EngineFixture()
        let admitted = try #require(fixture.admit(EngineFixture.http(key: "k-1")).toStore)
        #expect(admitted.record.deviceProtocol == .http && admitted.record.identity == "h|h1|echo|k-1")
        #expect(admitted.record.state == .dispatched)
        let effects = fixture.engine.stored(admitted, .accepted, now: fixture.now)
        #expect(effects == [.respond(.accepted(admitted.record)), .dispatch(admitted.record)])
    }

    @Test
    func aRepeatedIdempotencyKeyAnswersWithTheOriginal() throws {
        let fixture = EngineFixture()
        let admitted = try #require(fixture.admit(EngineFixture.http(key: "k-1")).toStore)
        var original = admitted.record
        original.id = "original"
        let effects = fixture.engine.stored(admitted, .duplicate(original), now: fixture.now)
        #expect(effects == [.count(.duplicate), .respond(.duplicate(original))])
    }

    @Test(arguments: [
        (EngineFixture.http("bad device"), ReplyCode.badRequest),
        (EngineFixture.http(key: "bad key"), .badRequest),
        (EngineFixture.http("h1", "nope"), .unknownOperation),
        (EngineFixture.http("h1", "sum", payload: "{"), .badRequest),
        (EngineFixture.http(payload: String(repeating: "x", count: 17)), .payloadTooLarge),
    ])
    func anInvalidSubmissionIsRefusedToTheCallerAndNotStored(arrival: Arrival, code: ReplyCode) throws {
        let fixture = EngineFixture()
        let effects = try #require(fixture.admit(arrival).effects)
        #expect(effects.responses.map(\.refusal) == [code])
        #expect(effects.counts.contains(.refusal) && effects.counts.contains(.rejection(code.rawValue)))
        #expect(effects.logLines.first?.metadata["via"] == "http")
    }

    @Test
    func aSubmissionWithoutAWorkerIsRefused503OrAnsweredAsTheDuplicateItIs() throws {
        var fixture = EngineFixture()
        fixture.workers = []
        let asked = try #require(fixture.admit(EngineFixture.http(key: "k")).toLookUp)
        #expect(fixture.engine.withoutWorker(asked, existing: nil).responses.map(\.refusal) == [.noWorker])
        #expect(fixture.engine.withoutWorker(asked, existing: asked.record).responses == [.duplicate(asked.record)])
    }

    @Test
    func aSubmissionOverItsQuotaIsRefused429ToTheCaller() throws {
        let fixture = EngineFixture()
        let admitted = try #require(fixture.admit(EngineFixture.http()).toStore)
        let effects = fixture.engine.stored(admitted, .deviceOverQuota(pending: 4), now: fixture.now)
        #expect(effects.replies.isEmpty)
        #expect(effects.responses.map(\.refusal) == [.busy])
    }

    @Test
    func aReplayIsANewRequestWithAFreshDeadlineAndTheOriginalsContent() throws {
        var fixture = EngineFixture()
        var original = try #require(fixture.admit(EngineFixture.device()).toStore).record
        original.state = .failed
        original.reason = "worker_error"
        fixture.advance(60_000)
        let copy = try #require(fixture.admit(.replay(original)).toStore)
        #expect(copy.record.id != original.id)
        #expect(copy.record.payload == original.payload && copy.record.correlationData == original.correlationData)
        #expect(copy.record.deadline == fixture.now + 10_000)
        #expect(copy.record.reason == "replay of \(original.id)")
        #expect(copy.record.identity == nil)  // never a duplicate of its original
        #expect(fixture.engine.stored(copy, .accepted, now: fixture.now).responses == [.accepted(copy.record)])
    }

    @Test
    func aTruncated413DeadLetterIsNeverReplayedNorOneWithoutAWorker() throws {
        var fixture = EngineFixture()
        var original = try #require(fixture.admit(EngineFixture.device(payload: String(repeating: "x", count: 40))).toStore).record
        #expect(original.reason == "payload_too_large")
        let tooLarge = try #require(fixture.admit(.replay(original)).effects)
        #expect(tooLarge.responses.map(\.refusal) == [.payloadTooLarge])
        original.reason = "worker_error"
        original.payload = Data("ok".utf8)
        fixture.workers = []
        let noWorker = try #require(fixture.admit(.replay(original)).effects)
        #expect(noWorker.responses.map(\.refusal) == [.noWorker])
    }
}

extension SubmitOutcome {
    /// The code of a refusal; nil otherwise.
    var refusal: ReplyCode? {
        if case .refused(let code, _) = self { code } else { nil }
    }
}
