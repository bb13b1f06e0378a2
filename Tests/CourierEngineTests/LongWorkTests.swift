import CourierCore
import CourierEngine
import Foundation
import MQTT
import Testing

/// Long work: a worker's progress (102) and heartbeats (202), and telling the worker when a
/// request ends without it.
@Suite
struct LongWorkTests {
    /// A request stored and in its first attempt, started at the fixture's time.
    func running(_ fixture: EngineFixture, _ arrival: Arrival = EngineFixture.device()) throws -> RequestRecord {
        var record = try #require(fixture.admit(arrival).toStore).record
        record.state = .dispatched
        record.attempts = 1
        return record
    }

    @Test func onlyProgressAndStillWorkingAreInterim() {
        #expect(RequestEngine.isInterim(status: 102) && RequestEngine.isInterim(status: 202))
        #expect(![100, 200, 204, 404, 500].contains { RequestEngine.isInterim(status: $0) })
    }

    @Test func aHeartbeatRenewsTheAttemptTimerAndNothingElse() throws {
        var fixture = EngineFixture()
        let record = try running(fixture)
        fixture.advance(2_000)
        let effects = fixture.engine.workerReported(
            status: 202, percent: nil, payload: Data(), contentType: nil, record: record, now: fixture.now)
        // echo: attemptTimeout 3 s from now.
        #expect(effects == [.extendAttempt(id: record.id, attempt: 1, wakeAt: fixture.now + 3_000, acknowledged: false)])
    }

    @Test func progressRenewsTheTimerAndGoesToTheDeviceWithItsPercentage() throws {
        var fixture = EngineFixture()
        let record = try running(fixture)
        fixture.advance(500)
        let effects = fixture.engine.workerReported(
            status: 102, percent: 140, payload: Data("most".utf8), contentType: "text/plain", record: record, now: fixture.now)
        #expect(effects.first == .extendAttempt(id: record.id, attempt: 1, wakeAt: fixture.now + 3_000, acknowledged: false))
        guard case .progress(let report, let reply?, record.deadline) = effects.last else {
            Issue.record("no progress effect in \(effects)")
            return
        }
        #expect(report == ProgressReport(requestID: record.id, percent: 100, payload: Data("most".utf8), contentType: "text/plain", at: fixture.now))
        #expect(reply.topic == "devices/d1/replies/echo" && reply.status == 102 && reply.correlationData == Data("c1".utf8))
        #expect(reply.userProperties.first(named: "progress") == "100")
        #expect(reply.userProperties.first(named: "status") == "102")
        #expect(reply.userProperties.first(named: "traceparent") == "00-abc-def-01")
    }

    @Test func anMQTT311DeviceGetsProgressOnItsStatusTopic() throws {
        let fixture = EngineFixture()
        let record = try running(fixture, EngineFixture.legacy())
        let effects = fixture.engine.workerReported(
            status: 102, percent: nil, payload: Data("working".utf8), contentType: nil, record: record, now: fixture.now)
        guard case .progress(_, let reply?, _) = effects.last else {
            Issue.record("no progress reply in \(effects)")
            return
        }
        #expect(reply.topic == "devices/d3/replies/echo/r1/102")
    }

    /// An interim reply for a request that is waiting, final or unknown changes nothing.
    @Test func anInterimReplyForARequestNotBeingWorkedIsIgnoredAndCounted() throws {
        let fixture = EngineFixture()
        var waiting = try running(fixture)
        waiting.state = .received
        var done = waiting
        done.state = .completed
        for record in [waiting, done, nil] {
            let effects = fixture.engine.workerReported(
                status: 102, percent: 5, payload: Data(), contentType: nil, record: record, now: fixture.now)
            #expect(effects.counts == [.ignoredWorkerReply])
            #expect(!effects.contains { if case .extendAttempt = $0 { true } else { false } })
        }
    }

    /// A cancelled request whose attempt started, or one that ran out of time in an attempt:
    /// the worker is told to stop. One that never reached a worker needs no such word.
    @Test func theWorkerIsToldWhenARequestEndsWithoutIt() throws {
        let fixture = EngineFixture()
        var record = try running(fixture)
        record.state = .cancelled
        record.replyStatus = 410
        let cancel = fixture.engine.cancel(id: record.id)
        #expect(fixture.engine.outcomeStored(cancel, record: record, now: fixture.now).contains(.cancelWork(record.id)))

        record.state = .expired
        record.replyStatus = 504
        #expect(fixture.engine.outcomeStored(cancel, record: record, now: fixture.now).contains(.cancelWork(record.id)))

        record.state = .cancelled
        record.attempts = 0
        #expect(!fixture.engine.outcomeStored(cancel, record: record, now: fixture.now).contains(.cancelWork(record.id)))

        record.state = .completed
        record.attempts = 1
        record.replyStatus = 200
        #expect(!fixture.engine.outcomeStored(cancel, record: record, now: fixture.now).contains(.cancelWork(record.id)))
    }
}

/// A device cancelling its own request over MQTT.
@Suite
struct DeviceCancelTests {
    @Test func aCancelNamesTheRequestByCorrelationDataOrByRequestID() throws {
        let engine = EngineFixture().engine
        let mqtt5 = try #require(EngineFixture().admit(EngineFixture.device("d1", correlation: "c1")).toStore).record
        let legacy = try #require(EngineFixture().admit(EngineFixture.legacy("d3", "echo", id: "r1")).toStore).record
        #expect(engine.cancelIdentity(ParsedCancelTopic(device: "d1"), correlationData: Data("c1".utf8)) == mqtt5.identity)
        #expect(engine.cancelIdentity(ParsedCancelTopic(device: "d3", operation: "echo", requestId: "r1"), correlationData: nil) == legacy.identity)
        #expect(engine.cancelIdentity(ParsedCancelTopic(device: "d1"), correlationData: nil) == nil)
        #expect(engine.cancelIdentity(ParsedCancelTopic(device: "d2"), correlationData: Data("c1".utf8)) != mqtt5.identity)
    }

    @Test func aPendingRequestEnds410AndAnythingElseIsIgnored() throws {
        let fixture = EngineFixture()
        var record = try #require(fixture.admit(EngineFixture.device("d1")).toStore).record
        let finished = fixture.engine.deviceCancelled(record, device: "d1").finished
        #expect(finished.count == 1 && finished[0].state == .cancelled && finished[0].reply.status == 410)
        #expect(finished[0].onlyFrom == RequestState.pending)

        #expect(fixture.engine.deviceCancelled(nil, device: "d1").counts == [.ignoredCancel])
        #expect(fixture.engine.deviceCancelled(record, device: "d2").counts == [.ignoredCancel], "not another device's")
        record.state = .delivered
        #expect(fixture.engine.deviceCancelled(record, device: "d1").counts == [.ignoredCancel])
    }
}
