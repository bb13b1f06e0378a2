import CourierCore
import Foundation
import Testing

@testable import CourierHTTP

/// What an event stream sends: each change once, newer than the client's `Last-Event-ID`,
/// and the result last.
@Suite("EventStreamState")
struct EventStreamStateTests {
    func record(_ state: RequestState, attempts: Int = 1, at: Int64) -> RequestRecord {
        var record = RequestRecord(id: "r", device: "d", operation: "echo", deviceProtocol: .mqtt5, receivedAt: 0, deadline: 10_000)
        record.state = state
        record.attempts = attempts
        record.updatedAt = at
        if state.isFinal { record.replyStatus = 200 }
        return record
    }

    func progress(at: Int64) -> ProgressReport {
        ProgressReport(requestID: "r", percent: 50, payload: Data("half".utf8), contentType: nil, at: at)
    }

    @Test func eachChangeOnceThenProgressThenTheResultAndNothingAfter() {
        var stream = EventStreamState(lastSent: -1)
        #expect(stream.frames(for: record(.dispatched, at: 10), progress: nil).map(\.kind) == [.state])
        #expect(stream.frames(for: record(.dispatched, at: 10), progress: nil).isEmpty, "a poll that finds nothing new")
        #expect(stream.frames(for: progress(at: 20)).map(\.kind) == [.progress])
        #expect(stream.frames(for: progress(at: 20)).isEmpty)
        #expect(stream.frames(for: record(.received, attempts: 1, at: 30), progress: nil).map(\.kind) == [.state])
        #expect(stream.frames(for: record(.dispatched, attempts: 2, at: 40), progress: nil).map(\.kind) == [.state])
        let result = stream.frames(for: record(.completed, attempts: 2, at: 50), progress: nil)
        #expect(result.map(\.kind) == [.result] && result.first?.id == 50)
        #expect(stream.ended)
        #expect(stream.frames(for: progress(at: 60)).isEmpty)
        #expect(stream.frames(for: record(.delivered, at: 70), progress: nil).isEmpty)
    }

    /// A reconnecting client: only what is newer than its last event, but always the result.
    @Test func aLastEventIDSkipsWhatTheClientSaw() {
        var stream = EventStreamState(lastSent: 20)
        #expect(stream.frames(for: record(.dispatched, at: 10), progress: progress(at: 15)).isEmpty)
        #expect(stream.frames(for: progress(at: 25)).map(\.id) == [25])
        #expect(stream.frames(for: record(.completed, at: 5), progress: nil).map(\.kind) == [.result])
    }

    @Test func framesAreServerSentEventsOfOneJSONLine() {
        let frame = EventStreamFrame.progress(progress(at: 20))
        #expect(frame.text == "id: 20\nevent: progress\ndata: {\"at\":20,\"message\":\"half\",\"percent\":50}\n\n")
    }
}
