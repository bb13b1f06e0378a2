import CourierCore
import Foundation
import Testing

@testable import CourierStore

@Suite("UnappliedRecords")
struct UnappliedRecordsTests {
    @Test func aVersionWrittenDuringAnApplyShadowsTheOneBeingAppliedAndOutlivesIt() {
        let records = UnappliedRecords()
        records.put(makeRecord(id: "a", identity: "key-a"))
        records.put(makeRecord(id: "b"))
        let applying = records.startApplying()
        #expect(Set(applying.inOrder.map(\.id)) == ["a", "b"])

        var finished = makeRecord(id: "a", identity: "key-a", state: .completed)
        finished.replyStatus = 200
        records.put(finished)
        #expect(records[id: "a"]?.state == .completed)
        #expect(records[identity: "key-a"]?.state == .completed)
        #expect(records[id: "b"]?.state == .received)
        #expect(records.count == 3)

        _ = records.finishApplying(succeeded: true)
        #expect(records[id: "a"]?.state == .completed)
        #expect(records[id: "b"] == nil)
        #expect(!records.contains("b"))
        #expect(records.count == 1)
    }

    @Test func aFailedApplyLeavesItsVersionsForTheNextOneUnlessShadowed() {
        let records = UnappliedRecords()
        records.put(makeRecord(id: "a"))
        records.put(makeRecord(id: "b", identity: "key-b"))
        _ = records.startApplying()
        records.put(makeRecord(id: "a", state: .dispatched))
        _ = records.finishApplying(succeeded: false)

        let next = records.startApplying()
        #expect(next.inOrder.map(\.id).sorted() == ["a", "b"])
        #expect(next.inOrder.first { $0.id == "a" }?.state == .dispatched)
        #expect(records[identity: "key-b"]?.id == "b")
    }

    @Test func anIdentityMovedAwayDuringAnApplyIsNotFoundThroughTheApplyingVersion() {
        let records = UnappliedRecords()
        records.put(makeRecord(id: "a", identity: "key-1"))
        _ = records.startApplying()
        records.put(makeRecord(id: "a", identity: "key-2"))
        #expect(records[identity: "key-1"] == nil)
        #expect(records[identity: "key-2"]?.id == "a")
    }

    @Test func theNewestVersionsAloneAreSettledOrNot() {
        let records = UnappliedRecords()
        records.put(makeRecord(id: "pending"))
        var delivered = makeRecord(id: "done", state: .completed)
        delivered.replyStatus = 200
        records.put(delivered)
        _ = records.startApplying()
        delivered.deliveredAt = 2_000
        delivered.state = .delivered
        records.put(delivered)

        #expect(records.unsettledRecords.map(\.id) == ["pending"])
        var seen: [String: RequestState] = [:]
        records.forEach { seen[$0.id] = $0.state }
        #expect(seen == ["pending": .received, "done": .delivered])
    }

    @Test func aFinalVersionOlderThanTheCutoffIsNoticedInEitherGeneration() {
        let records = UnappliedRecords()
        records.put(makeRecord(id: "pending", receivedAt: 1_000))
        #expect(!records.mayHoldFinal(before: 5_000))
        var finished = makeRecord(id: "done", state: .completed, receivedAt: 2_000)
        finished.updatedAt = 3_000
        records.put(finished)
        #expect(records.mayHoldFinal(before: 3_001))
        #expect(!records.mayHoldFinal(before: 3_000))
        _ = records.startApplying()
        #expect(records.mayHoldFinal(before: 3_001))
        _ = records.finishApplying(succeeded: true)
        #expect(!records.mayHoldFinal(before: 10_000))
    }
}
