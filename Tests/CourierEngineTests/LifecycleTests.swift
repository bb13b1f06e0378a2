import CourierCore
import CourierEngine
import Foundation
import MQTT
import Testing

/// A stored request from its first attempt to its final reply: worker results, timers,
/// retries, deadlines, cancel, and delivery.
@Suite
struct LifecycleTests {
    /// A request as the store holds it once admitted.
    func stored(_ fixture: EngineFixture, _ arrival: Arrival = EngineFixture.device()) throws -> RequestRecord {
        try #require(fixture.admit(arrival).toStore).record
    }

    /// The record as the store returns it after applying `outcome` at `now`.
    func applied(_ outcome: FinalOutcome, to record: RequestRecord, now: Int64) -> RequestRecord {
        var record = record
        record.state = outcome.state
        record.replyStatus = outcome.reply.status
        record.replyCode = outcome.reply.code
        record.replyPayload = outcome.reply.payload
        record.replyContentType = outcome.reply.contentType
        record.replyUserProperties = outcome.reply.userProperties
        record.reason = outcome.reply.reason
        record.updatedAt = now
        record.wakeAt = nil
        return record
    }

    @Test
    func aWorkersSuccessIsStoredThenRepliedCountedLoggedAndMarkedOnItsPuback() throws {
        var fixture = EngineFixture()
        let record = try stored(fixture)
        fixture.advance(40)
        let replied = fixture.engine.workerReplied(
            requestID: record.id, status: 200, payload: Data("HI".utf8), contentType: "text/plain", userProperties: [UserProperty("k", "v")])
        let outcome = try #require(replied.finished.first)
        #expect(outcome.state == .completed && outcome.reply.code == "ok" && outcome.reply.reason == nil)

        let final = applied(outcome, to: record, now: fixture.now)
        let effects = fixture.engine.outcomeStored(outcome, record: final, now: fixture.now)
        #expect(effects.counts == [.request(operation: "echo", status: 200), .latency(operation: "echo", milliseconds: 40)])
        #expect(effects.contains(.ended(final)))
        let reply = try #require(effects.replies.first)
        #expect(reply.topic == "devices/d1/replies/echo" && reply.correlationData == Data("c1".utf8) && reply.text == "HI")
        #expect(reply.userProperties.map(\.name) == ["status", "traceparent", "k"])
        #expect(effects.logLines.first?.metadata["duration_ms"] == "40")
        #expect(fixture.engine.published(reply, recordID: record.id, .acknowledged) == [.markDelivered(record.id)])
    }

    @Test
    func aWorkerErrorFailsTheRequestWithTheWorkersOwnCodeAndMakesADeadLetter() throws {
        let fixture = EngineFixture()
        let record = try stored(fixture)
        let replied = fixture.engine.workerReplied(
            requestID: record.id, status: 503, payload: Data(), contentType: nil, userProperties: [UserProperty("error", "db_down")])
        let outcome = try #require(replied.finished.first)
        #expect(outcome.state == .failed && outcome.reply.code == "db_down" && outcome.reply.reason == "worker_error")
        let final = applied(outcome, to: record, now: fixture.now)
        let effects = fixture.engine.outcomeStored(outcome, record: final, now: fixture.now)
        #expect(effects.contains(.deadLetter(final)) && effects.counts.contains(.deadLetter))
        #expect(effects.replies.first?.errorCode == "db_down")
    }

    @Test
    func aResultForARequestNoLongerPendingIsIgnoredAndCounted() {
        let fixture = EngineFixture()
        let outcome = FinalOutcome(id: "gone", state: .completed, reply: StoredReply(status: 200))
        let effects = fixture.engine.outcomeStored(outcome, record: nil, now: fixture.now)
        #expect(effects.counts == [.ignoredWorkerReply])
        #expect(effects.replies.isEmpty)
    }

    @Test
    func anHTTPRequestEndsWithoutAPublishAndIsMarkedDelivered() throws {
        let fixture = EngineFixture()
        let record = try stored(fixture, EngineFixture.http())
        let outcome = try #require(
            fixture.engine.workerReplied(requestID: record.id, status: 200, payload: Data(), contentType: nil, userProperties: []).finished.first)
        let final = applied(outcome, to: record, now: fixture.now)
        let effects = fixture.engine.outcomeStored(outcome, record: final, now: fixture.now)
        #expect(effects.replies.isEmpty && effects.contains(.markDelivered(record.id)) && effects.contains(.ended(final)))
    }

    @Test
    func cancellingEndsTheRequest410() {
        let outcome = EngineFixture().engine.cancel(id: "r")
        #expect(outcome.state == .cancelled && outcome.reply.status == 410 && outcome.reply.code == "cancelled")
        #expect(outcome.onlyFrom == RequestState.pending)
    }

    // MARK: Timers

    @Test
    func aTimedOutAttemptIsRetriedWithBackoffUntilTheAttemptsRunOutThen504() throws {
        var fixture = EngineFixture()
        var record = try stored(fixture)
        fixture.advance(3_000)
        let first = fixture.engine.timerFired(record, now: fixture.now, stopping: false)
        #expect(first.contains(.retry(id: record.id, attempt: 1, wakeAt: fixture.now + 100)))
        #expect(first.counts == [.retry])

        // Back in `received`: the next timer starts attempt 2, whose timeout is 3 s again.
        record.state = .received
        fixture.advance(100)
        #expect(fixture.engine.timerFired(record, now: fixture.now, stopping: false)
            == [.startAttempt(id: record.id, afterAttempts: 1, wakeAt: fixture.now + 3_000)])

        // The third and last attempt runs to the deadline.
        record.attempts = 2
        #expect(fixture.engine.timerFired(record, now: fixture.now, stopping: false)
            == [.startAttempt(id: record.id, afterAttempts: 2, wakeAt: record.deadline)])

        record.state = .dispatched
        record.attempts = 3
        fixture.advance(1_000)
        let last = fixture.engine.timerFired(record, now: fixture.now, stopping: false)
        #expect(last.finished.map(\.reply.status) == [504] && last.finished.first?.state == .expired)
    }

    @Test
    func aPassedDeadlineEndsTheRequest504WhateverItsState() throws {
        var fixture = EngineFixture()
        var record = try stored(fixture)
        record.state = .received
        fixture.advance(10_000)
        let effects = fixture.engine.timerFired(record, now: fixture.now, stopping: true)
        #expect(effects.finished.map(\.reply.code) == ["timeout"])
    }

    @Test
    func whileStoppingAWaitingRequestStartsNoAttempt() throws {
        var fixture = EngineFixture()
        fixture.stopping = true
        let record = try stored(fixture)
        #expect(fixture.engine.timerFired(record, now: fixture.now + 1, stopping: true).isEmpty)
    }

    @Test
    func backoffDoublesFrom100MillisecondsAndStopsAt2Seconds() {
        let engine = EngineFixture().engine
        #expect((1...7).map { engine.backoff(afterAttempt: $0) } == [100, 200, 400, 800, 1600, 2000, 2000])
        let random = RequestEngine(configuration: CourierConfiguration())
        #expect((0..<100).allSatisfy { _ in (0...100).contains(random.backoff(afterAttempt: 1)) })
    }

    @Test
    func aBackoffNeverPushesARetryPastTheDeadline() throws {
        var fixture = EngineFixture()
        var record = try stored(fixture)
        record.deadline = fixture.now + 3_050
        fixture.advance(3_000)
        let effects = fixture.engine.timerFired(record, now: fixture.now, stopping: false)
        #expect(effects.contains(.retry(id: record.id, attempt: 1, wakeAt: record.deadline)))
    }

    // MARK: Dispatch and delivery

    @Test
    func aDispatchNobodyTookEndsTheRequest503AndOneThatCanNeverBeSentEndsIt400() {
        let engine = EngineFixture().engine
        #expect(engine.dispatched(id: "r", operation: "echo", .sent).isEmpty)
        #expect(engine.dispatched(id: "r", operation: "echo", .noWorker).finished.map(\.reply.code) == ["no_worker"])
        #expect(engine.dispatched(id: "r", operation: "echo", .failed("too large", permanent: true)).finished.map(\.reply.status) == [400])
        let transient = engine.dispatched(id: "r", operation: "echo", .failed("connection lost", permanent: false))
        #expect(transient.finished.isEmpty && transient.logLines.map(\.level) == [.warning])  // left to the attempt timer
    }

    @Test
    func aReplyNoBrokerCanTakeIsGivenUpAnd500IsSentInItsPlaceOnce() throws {
        let fixture = EngineFixture()
        let record = try stored(fixture)
        let reply = try #require(DeviceReply.make(for: record, status: 200, code: "ok", payload: Data(count: 100), contentType: nil, topics: Topics()))
        let effects = fixture.engine.published(reply, recordID: record.id, .failed("oversize packet", permanent: true))
        #expect(effects.counts == [.undeliverable])
        #expect(effects.contains(.markDelivered(record.id)))
        let substitute = try #require(effects.replies.first)
        #expect(substitute.status == 500 && substitute.errorCode == "worker_error" && substitute.correlationData == reply.correlationData)
        guard case .reply(_, nil)? = effects.last else {
            Issue.record("the 500 must not be tracked as the stored reply: \(effects)")
            return
        }
        // A transient failure leaves the stored reply to the delivery sweep.
        let transient = fixture.engine.published(reply, recordID: record.id, .failed("connection lost", permanent: false))
        #expect(transient.replies.isEmpty && !transient.contains(.markDelivered(record.id)))
    }

    @Test
    func theSweepPublishesAStoredReplyAgainUnderItsRecord() throws {
        let fixture = EngineFixture()
        var record = try stored(fixture)
        record.state = .completed
        record.replyStatus = 200
        #expect(fixture.engine.redeliver(record).replies.count == 1)
        record.deviceProtocol = .http
        #expect(fixture.engine.redeliver(record) == [.markDelivered(record.id)])
    }
}
