import CourierCore
import CourierStore
import Foundation
import Testing

extension StoreContractTests {
    /// The batch forms the bridge uses: many requests, outcomes and delivery marks per transaction.
    @Suite("group commits")
    struct GroupCommits {
        @Test(arguments: StoreBackend.allCases)
        func aBatchOfRequestsSeesItsOwnDuplicatesAndQuotas(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let records = [
                makeRecord(id: "1", device: "a", identity: "a/r-1"),
                makeRecord(id: "2", device: "a", identity: "a/r-1"),  // the same request again
                makeRecord(id: "3", device: "a"),
                makeRecord(id: "4", device: "a"),  // over the device's quota of 2
                makeRecord(id: "5", device: "b"),  // over the total of 2
            ]
            let outcomes = try fixture.store.accept(records, maxPendingPerDevice: 2, maxPendingTotal: 2)

            #expect(outcomes.count == 5)
            #expect(outcomes[0] == .accepted)
            guard case .duplicate(let original) = outcomes[1] else {
                Issue.record("expected a duplicate, got \(outcomes[1])")
                return
            }
            #expect(original.id == "1")
            #expect(outcomes[2] == .accepted)
            #expect(outcomes[3] == .deviceOverQuota(pending: 2))
            #expect(outcomes[4] == .totalOverQuota(pending: 2))
            #expect(try fixture.store.pendingCount() == 2)
            #expect(try fixture.store.record(id: "2") == nil)
        }

        @Test(arguments: StoreBackend.allCases)
        func outcomesApplyOnlyToPendingRecordsAndMarksInTheSameTransaction(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            for id in ["p1", "p2", "done"] {
                _ = try store.accept(makeRecord(id: id), maxPendingPerDevice: 10, maxPendingTotal: 10)
            }
            _ = try store.finish(id: "done", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 1_500)

            let records = try store.finish(
                [
                    FinalOutcome(id: "p1", state: .completed, reply: okReply),
                    FinalOutcome(id: "unknown", state: .completed, reply: okReply),
                    FinalOutcome(id: "done", state: .failed, reply: StoredReply(status: 500, code: "worker_error")),
                    FinalOutcome(id: "p2", state: .expired, reply: StoredReply(status: 504, code: "timeout")),
                ],
                markingDelivered: ["done"],
                now: 2_000
            )

            #expect(records.map { $0?.id } == ["p1", nil, nil, "p2"])
            #expect(records[0]?.state == .completed)
            #expect(records[0]?.replyStatus == 200)
            #expect(records[3]?.replyCode == "timeout")
            #expect(records[3]?.wakeAt == nil)
            let done = try #require(try store.record(id: "done"))
            #expect(done.state == .delivered)  // marked, and not overwritten by the late failure
            #expect(done.replyStatus == 200)
            #expect(done.deliveredAt == 2_000)
            #expect(done.updatedAt == 1_500)  // the outcome's time, not the delivery's
            #expect(try store.pendingCount() == 0)
            #expect(try store.undelivered(limit: 10).map(\.id).sorted() == ["p1", "p2"])
        }

        /// Requests, outcomes and delivery marks in one commit: what the bridge's network thread
        /// sends each round, applied in that order.
        @Test(arguments: StoreBackend.allCases)
        func oneCommitAcceptsFinishesAndMarks(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            try store.insert(makeRecord(id: "running", device: "a"))
            try store.insert(makeRecord(id: "answered", device: "a"))
            _ = try store.finish(id: "answered", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 1_500)

            let result = try store.commit(
                accepting: [makeRecord(id: "new", device: "a"), makeRecord(id: "refused", device: "a")],
                maxPendingPerDevice: 2,
                maxPendingTotal: 10,
                finishing: [FinalOutcome(id: "running", state: .completed, reply: okReply), FinalOutcome(id: "new", state: .cancelled, reply: okReply)],
                markingDelivered: ["answered"],
                now: 2_000
            )
            #expect(result.accepted == [.accepted, .deviceOverQuota(pending: 2)])
            #expect(result.finished.map { $0?.state } == [.completed, .cancelled])
            #expect(try store.record(id: "answered")?.state == .delivered)
            #expect(try store.record(id: "refused") == nil)
            #expect(try store.pendingCount(device: "a") == 0)
        }

        /// A commit is one transaction: when one of its statements fails, nothing of it stays.
        @Test(arguments: StoreBackend.allCases)
        func aFailingCommitLeavesNothing(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            try store.insert(makeRecord(id: "taken"))
            #expect(throws: (any Error).self) {
                try store.commit(
                    accepting: [makeRecord(id: "fresh"), makeRecord(id: "taken")],  // the same id again
                    maxPendingPerDevice: 10,
                    maxPendingTotal: 10,
                    finishing: [FinalOutcome(id: "taken", state: .completed, reply: okReply)],
                    markingDelivered: [],
                    now: 2_000
                )
            }
            #expect(try store.record(id: "fresh") == nil)
            #expect(try store.record(id: "taken")?.state == .received)
            #expect(try store.pendingCount() == 1)
            // The store goes on as before.
            #expect(try store.insert(makeRecord(id: "fresh")) == .accepted)
        }
    }
}
