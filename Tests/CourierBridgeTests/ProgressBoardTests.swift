import CourierCore
import Foundation
import Testing

@testable import CourierBridge

/// The throttle between workers' progress and devices: one reply per interval per request,
/// the latest winning, none after the end.
@Suite("ProgressBoard")
struct ProgressBoardTests {
    func report(_ id: String, _ percent: Int, at: Int64) -> ProgressReport {
        ProgressReport(requestID: id, percent: percent, payload: Data("\(percent)".utf8), contentType: nil, at: at)
    }

    func reply(_ percent: Int) -> DeviceReply {
        let record = RequestRecord(
            id: "r", device: "d", operation: "echo", deviceProtocol: .mqtt5, responseTopic: "devices/d/replies", receivedAt: 0, deadline: 1)
        return DeviceReply.make(for: record, status: 102, code: nil, payload: Data("\(percent)".utf8), contentType: nil, topics: Topics())!
    }

    @Test func theFirstGoesAtOnceThenTheLatestOncePerInterval() {
        let board = ProgressBoard(interval: 1_000)
        #expect(board.update(report("r", 10, at: 0), reply: reply(10), until: 60_000) == reply(10))
        #expect(board.update(report("r", 20, at: 100), reply: reply(20), until: 60_000) == nil)
        #expect(board.update(report("r", 30, at: 200), reply: reply(30), until: 60_000) == nil)
        #expect(board.latest("r")?.percent == 30)
        #expect(board.due(now: 999).isEmpty)
        #expect(board.due(now: 1_000) == [reply(30)], "the latest, once")
        #expect(board.due(now: 5_000).isEmpty)
        #expect(board.update(report("r", 40, at: 2_000), reply: reply(40), until: 60_000) == reply(40), "an interval after the last one sent")
    }

    @Test func requestsAreThrottledApart() {
        let board = ProgressBoard(interval: 1_000)
        #expect(board.update(report("a", 10, at: 0), reply: reply(10), until: 60_000) != nil)
        #expect(board.update(report("b", 10, at: 1), reply: reply(10), until: 60_000) != nil)
    }

    @Test func nothingHeldIsSentAfterTheEnd() {
        let board = ProgressBoard(interval: 1_000)
        _ = board.update(report("r", 10, at: 0), reply: reply(10), until: 60_000)
        _ = board.update(report("r", 90, at: 10), reply: reply(90), until: 60_000)
        board.end("r")
        #expect(board.due(now: 10_000).isEmpty)
        #expect(board.latest("r") == nil)
    }

    /// A request that ends on another bridge never tells this one: its progress goes at its
    /// deadline.
    @Test func progressIsForgottenAtTheDeadline() {
        let board = ProgressBoard(interval: 1_000)
        _ = board.update(report("r", 10, at: 0), reply: reply(10), until: 5_000)
        _ = board.update(report("r", 20, at: 10), reply: reply(20), until: 5_000)
        #expect(board.due(now: 5_000) == [reply(20)])
        #expect(board.latest("r")?.percent == 20)
        #expect(board.due(now: 5_001).isEmpty)
        #expect(board.latest("r") == nil)
    }
}
