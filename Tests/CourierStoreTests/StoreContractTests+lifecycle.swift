import CourierCore
import CourierStore
import Foundation
import MQTT
import Testing

extension StoreContractTests {
    @Suite("lifecycle")
    struct Lifecycle {
        @Test(arguments: StoreBackend.allCases)
        func perDeviceQuota(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            func accept(_ id: String, device: String) throws -> AcceptOutcome {
                try store.accept(makeRecord(id: id, device: device), maxPendingPerDevice: 2, maxPendingTotal: 100)
            }
            #expect(try accept("a1", device: "a") == .accepted)
            #expect(try accept("a2", device: "a") == .accepted)
            #expect(try accept("a3", device: "a") == .deviceOverQuota(pending: 2))
            #expect(try store.record(id: "a3") == nil)
            #expect(try accept("b1", device: "b") == .accepted)
            #expect(try store.pendingCount(device: "a") == 2)
            #expect(try store.pendingCount(device: "b") == 1)
            #expect(try store.pendingCount() == 3)

            // Dispatching keeps it pending; finishing frees a slot.
            _ = try store.claimAttempt(id: "a1", afterAttempts: 0, wakeAt: 5_000, now: 1_100)
            #expect(try store.pendingCount(device: "a") == 2)
            _ = try store.finish(id: "a1", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 1_200)
            #expect(try store.pendingCount(device: "a") == 1)
            #expect(try accept("a3", device: "a") == .accepted)
            #expect(try store.pendingCount(device: "a") == 2)

            // A rejection (final state) skips the quota check and does not count.
            let rejected = makeRecord(id: "a4", device: "a", state: .rejected)
            #expect(try store.accept(rejected, maxPendingPerDevice: 2, maxPendingTotal: 100) == .accepted)
            #expect(try store.pendingCount(device: "a") == 2)
        }

        @Test(arguments: StoreBackend.allCases)
        func totalQuotaDropsWhenFinishedAndPurged(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            func accept(_ id: String, device: String) throws -> AcceptOutcome {
                try store.accept(makeRecord(id: id, device: device), maxPendingPerDevice: 10, maxPendingTotal: 3)
            }
            #expect(try accept("1", device: "a") == .accepted)
            #expect(try accept("2", device: "b") == .accepted)
            #expect(try accept("3", device: "c") == .accepted)
            #expect(try accept("4", device: "d") == .totalOverQuota(pending: 3))
            #expect(try store.pendingCount() == 3)

            _ = try store.finish(
                id: "1", state: .expired, reply: StoredReply(status: 504, code: "timeout"),
                onlyFrom: RequestState.pending, now: 2_000)
            #expect(try store.pendingCount() == 2)
            #expect(try store.pendingCount(device: "a") == 0)
            #expect(try accept("4", device: "d") == .accepted)
            #expect(try accept("5", device: "e") == .totalOverQuota(pending: 3))

            // Purging a finished record leaves the counts alone...
            #expect(try store.purge(finishedBefore: 10_000, deadLettersBefore: 10_000, limit: .max) == 1)
            #expect(try store.pendingCount() == 3)
            // ...and cancelling frees a slot, which purging it does not take again.
            _ = try store.finish(
                id: "2", state: .cancelled, reply: StoredReply(status: 410, code: "cancelled"),
                onlyFrom: RequestState.pending, now: 3_000)
            #expect(try store.pendingCount() == 2)
            #expect(try store.purge(finishedBefore: 10_000, deadLettersBefore: 10_000, limit: .max) == 1)
            #expect(try store.pendingCount() == 2)
            #expect(try store.pendingCount(device: "b") == 0)
            #expect(try accept("5", device: "e") == .accepted)
        }

        @Test(arguments: StoreBackend.allCases)
        func countsFollowEveryTransition(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            for i in 0..<5 {
                try store.insert(makeRecord(id: "p\(i)", device: i.isMultiple(of: 2) ? "even" : "odd"))
            }
            try store.insert(makeRecord(id: "r", device: "even", state: .rejected))
            #expect(try store.pendingCount() == 5)
            #expect(try store.pendingCount(device: "even") == 3)
            #expect(try store.pendingCount(device: "odd") == 2)

            _ = try store.claimAttempt(id: "p0", afterAttempts: 0, wakeAt: 2_000, now: 1_000)
            _ = try store.requeue(id: "p0", attempt: 1, wakeAt: 3_000, now: 2_000)
            _ = try store.finish(
                id: "p1", state: .failed, reply: StoredReply(status: 500, code: "worker_error"),
                onlyFrom: RequestState.pending, now: 1_000)
            _ = try store.finish(
                id: "p2", state: .cancelled, reply: StoredReply(status: 410, code: "cancelled"),
                onlyFrom: RequestState.pending, now: 1_000)
            _ = try store.finish(id: "r", state: .failed, reply: okReply, onlyFrom: RequestState.pending, now: 1_000)  // final: no change
            #expect(try store.pendingCount() == 3)
            #expect(try store.pendingCount(device: "even") == 2)
            #expect(try store.pendingCount(device: "odd") == 1)
            #expect(try store.record(id: "r")?.state == .rejected)
        }

        @Test(arguments: StoreBackend.allCases)
        func finishIsCompareAndSet(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            try store.insert(makeRecord(id: "f"))
            _ = try store.claimAttempt(id: "f", afterAttempts: 0, wakeAt: 9_000, now: 1_100)

            let reply = StoredReply(
                status: 200, payload: Data([0, 1, 2]), contentType: "application/cbor",
                userProperties: [UserProperty("traceparent", "00-1-2-01")])
            let first = try #require(
                try store.finish(id: "f", state: .completed, reply: reply, onlyFrom: [.dispatched], now: 1_500))
            #expect(first.state == .completed)
            #expect(first.replyStatus == 200)
            #expect(first.replyCode == nil)
            #expect(first.replyPayload == Data([0, 1, 2]))
            #expect(first.replyContentType == "application/cbor")
            #expect(first.replyUserProperties == reply.userProperties)
            #expect(first.wakeAt == nil)
            #expect(first.updatedAt == 1_500)
            #expect(first.deliveredAt == nil)

            // A late or duplicate reply, and a timeout racing it, change nothing.
            let late = StoredReply(status: 500, code: "worker_error", reason: "worker_error")
            #expect(try store.finish(id: "f", state: .failed, reply: late, onlyFrom: [.dispatched], now: 1_600) == nil)
            #expect(
                try store.finish(
                    id: "f", state: .expired, reply: StoredReply(status: 504, code: "timeout"),
                    onlyFrom: RequestState.pending, now: 1_700) == nil)
            #expect(try store.record(id: "f") == first)
            #expect(try store.finish(id: "missing", state: .completed, reply: reply, onlyFrom: [.dispatched], now: 1_600) == nil)

            // delivered: true marks it delivered at once (nothing to publish).
            try store.insert(makeRecord(id: "h", responseTopic: nil))
            let http = try #require(
                try store.finish(id: "h", state: .failed, reply: late, onlyFrom: [.received], now: 2_000, delivered: true))
            #expect(http.deliveredAt == 2_000)
            #expect(http.reason == "worker_error")
            #expect(http.replyCode == "worker_error")
        }

        /// The fast path and the timer scan racing to start the same attempt start it once; a
        /// timeout of an attempt that is no longer the running one requeues nothing.
        @Test(arguments: StoreBackend.allCases)
        func claimAndRequeueAreCompareAndSet(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            try store.insert(makeRecord(id: "c", wakeAt: 1_000))
            #expect(try store.claimAttempt(id: "c", afterAttempts: 1, wakeAt: 5_000, now: 1_100) == nil)
            let first = try #require(try store.claimAttempt(id: "c", afterAttempts: 0, wakeAt: 5_000, now: 1_100))
            #expect(first.state == .dispatched)
            #expect(first.attempts == 1)
            #expect(first.wakeAt == 5_000)
            #expect(first.updatedAt == 1_100)
            #expect(try store.record(id: "c") == first)
            #expect(try store.claimAttempt(id: "c", afterAttempts: 0, wakeAt: 6_000, now: 1_200) == nil)

            #expect(try store.requeue(id: "c", attempt: 2, wakeAt: 7_000, now: 5_000) == nil)
            let requeued = try #require(try store.requeue(id: "c", attempt: 1, wakeAt: 7_000, now: 5_000))
            #expect(requeued.state == .received)
            #expect(requeued.attempts == 1)
            #expect(requeued.wakeAt == 7_000)
            #expect(try store.requeue(id: "c", attempt: 1, wakeAt: 8_000, now: 5_100) == nil)
            let second = try #require(try store.claimAttempt(id: "c", afterAttempts: 1, wakeAt: 9_000, now: 7_000))
            #expect(second.attempts == 2)

            // A heartbeat moves the running attempt's timer; an acknowledgement marks it 202.
            #expect(try store.extendAttempt(id: "c", attempt: 1, wakeAt: 9_900, acknowledged: false, now: 7_100) == nil)
            let extended = try #require(try store.extendAttempt(id: "c", attempt: 2, wakeAt: 9_900, acknowledged: false, now: 7_100))
            #expect(extended.wakeAt == 9_900 && extended.replyStatus == nil && extended.state == .dispatched)
            let acknowledged = try #require(try store.extendAttempt(id: "c", attempt: 2, wakeAt: 9_950, acknowledged: true, now: 7_200))
            #expect(acknowledged.wakeAt == 9_950 && acknowledged.replyStatus == 202)
            #expect(try store.extendAttempt(id: "c", attempt: 2, wakeAt: 9_990, acknowledged: false, now: 7_300)?.replyStatus == 202)

            _ = try store.finish(id: "c", state: .completed, reply: okReply, onlyFrom: [.dispatched], now: 8_000)
            #expect(try store.requeue(id: "c", attempt: 2, wakeAt: 9_500, now: 8_100) == nil)
            #expect(try store.claimAttempt(id: "c", afterAttempts: 2, wakeAt: 9_500, now: 8_100) == nil)
            #expect(try store.record(id: "c")?.state == .completed)
            #expect(try store.claimAttempt(id: "none", afterAttempts: 0, wakeAt: 1, now: 1) == nil)
            #expect(try store.requeue(id: "none", attempt: 1, wakeAt: 1, now: 1) == nil)
        }

        @Test(arguments: StoreBackend.allCases)
        func dueOrdering(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            try store.insert(makeRecord(id: "late", wakeAt: 3_000))
            try store.insert(makeRecord(id: "early", wakeAt: 1_000))
            try store.insert(makeRecord(id: "middle-b", wakeAt: 2_000))
            try store.insert(makeRecord(id: "middle-a", wakeAt: 2_000))  // a tie: by id
            try store.insert(makeRecord(id: "unset"))
            try store.insert(makeRecord(id: "final", state: .rejected, wakeAt: 500))

            #expect(try store.due(now: 999, limit: 10).isEmpty)
            #expect(try store.due(now: 2_000, limit: 10).map(\.id) == ["early", "middle-a", "middle-b"])
            #expect(try store.due(now: 10_000, limit: 2).map(\.id) == ["early", "middle-a"])
            #expect(try store.due(now: 10_000, limit: 10).map(\.id) == ["early", "middle-a", "middle-b", "late"])

            // A claimed attempt's timer moves; a finished record's timer stops counting.
            _ = try store.claimAttempt(id: "early", afterAttempts: 0, wakeAt: 4_000, now: 1_000)
            _ = try store.finish(id: "middle-a", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 2_100)
            #expect(try store.due(now: 10_000, limit: 10).map(\.id) == ["middle-b", "late", "early"])
            #expect(try store.due(now: .max, limit: 0).isEmpty)
        }

        @Test(arguments: StoreBackend.allCases)
        func undeliveredThenMarkDelivered(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            func finish(_ id: String, _ state: RequestState, at now: Int64, delivered: Bool = false) throws {
                _ = try #require(
                    try store.finish(
                        id: id, state: state, reply: StoredReply(status: 200), onlyFrom: RequestState.pending,
                        now: now, delivered: delivered))
            }
            try store.insert(makeRecord(id: "c2"))
            try store.insert(makeRecord(id: "c1"))
            try store.insert(makeRecord(id: "x"))
            try store.insert(makeRecord(id: "noTopic", responseTopic: nil))
            var legacy = makeRecord(id: "legacy", responseTopic: nil)  // 3.1.1: the topic convention
            legacy.deviceProtocol = .mqtt311
            legacy.requestId = "q1"
            try store.insert(legacy)
            try store.insert(makeRecord(id: "pending"))
            try store.insert(makeRecord(id: "already"))
            try finish("c2", .completed, at: 2_000)
            try finish("c1", .completed, at: 1_500)
            try finish("x", .expired, at: 1_800)
            try finish("noTopic", .completed, at: 1_000)
            try finish("legacy", .completed, at: 1_900)
            try finish("already", .completed, at: 1_000, delivered: true)

            #expect(try store.undelivered(limit: 10).map(\.id) == ["c1", "x", "legacy", "c2"])
            #expect(try store.undelivered(limit: 1).map(\.id) == ["c1"])

            try store.markDelivered(ids: ["c1"], now: 3_000)
            let c1 = try #require(try store.record(id: "c1"))
            #expect(c1.state == .delivered)
            #expect(c1.deliveredAt == 3_000)
            #expect(try store.undelivered(limit: 10).map(\.id) == ["x", "legacy", "c2"])

            try store.markDelivered(ids: ["x", "legacy", "c2", "pending", "missing"], now: 4_000)
            #expect(try store.undelivered(limit: 10).isEmpty)
            #expect(try store.record(id: "x")?.state == .expired)  // other final states stay
            #expect(try store.record(id: "x")?.deliveredAt == 4_000)
            #expect(try store.record(id: "c2")?.state == .delivered)
            #expect(try store.record(id: "pending")?.deliveredAt == nil)  // pending: untouched
            #expect(try store.record(id: "pending")?.state == .received)

            // Marking twice keeps the first acknowledgement time.
            try store.markDelivered(ids: ["c1"], now: 5_000)
            #expect(try store.record(id: "c1")?.deliveredAt == 3_000)
        }

        @Test(arguments: StoreBackend.allCases)
        func purgeDeletesOnlyOldFinishedRecords(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            func purge(_ cutoff: Int64, _ deadLetterCutoff: Int64) throws -> Int {
                try store.purge(finishedBefore: cutoff, deadLettersBefore: deadLetterCutoff, limit: .max)
            }
            for id in ["old", "new", "pendingOld"] {
                try store.insert(makeRecord(id: id, receivedAt: 100))
            }
            _ = try store.finish(id: "old", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 1_000)
            _ = try store.finish(id: "new", state: .failed, reply: okReply, onlyFrom: RequestState.pending, now: 5_000)
            try store.insert(makeRecord(id: "rejected", identity: "m5|dev-1|eA==", state: .rejected, receivedAt: 900))

            // Past retention a dead letter stays, but no longer answers duplicates.
            #expect(try purge(1_000, 0) == 1)  // identity cleared
            #expect(try store.record(id: "rejected") != nil)
            #expect(try store.record(id: "rejected")?.identity == nil)
            #expect(try store.record(identity: "m5|dev-1|eA==") == nil)
            #expect(try purge(5_000, 0) == 1)
            #expect(try store.record(id: "old") == nil)
            #expect(try store.record(id: "rejected") != nil)
            // Dead letters go at their own, longer retention.
            #expect(try purge(.max, 1_000) == 1)  // rejected, updatedAt 900
            #expect(try store.record(id: "rejected") == nil)
            #expect(try store.record(id: "new") != nil)
            #expect(try store.record(id: "pendingOld") != nil)  // pending records are never purged
            #expect(try purge(.max, .max) == 1)
            #expect(try store.record(id: "new") == nil)
            #expect(try store.record(id: "pendingOld") != nil)
            #expect(try purge(.max, .max) == 0)
        }

        /// The timer loop purges in small transactions, calling again while a batch comes back full.
        @Test(arguments: StoreBackend.allCases)
        func purgeTakesAtMostItsLimitAtATime(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            for index in 0..<5 {
                try store.insert(makeRecord(id: "done-\(index)", receivedAt: 100))
                _ = try store.finish(id: "done-\(index)", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 1_000)
            }
            #expect(try store.purge(finishedBefore: 2_000, deadLettersBefore: 2_000, limit: 2) == 2)
            #expect(try store.purge(finishedBefore: 2_000, deadLettersBefore: 2_000, limit: 2) == 2)
            #expect(try store.purge(finishedBefore: 2_000, deadLettersBefore: 2_000, limit: 2) == 1)
            #expect(try store.purge(finishedBefore: 2_000, deadLettersBefore: 2_000, limit: 2) == 0)
        }

        @Test(arguments: StoreBackend.allCases)
        func outcomesOfFinishedRequests(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            try store.insert(makeRecord(id: "a", receivedAt: 1_000))
            try store.insert(makeRecord(id: "b", receivedAt: 1_000))
            try store.insert(makeRecord(id: "c", receivedAt: 1_000))
            _ = try store.finish(id: "a", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 1_250)
            _ = try store.finish(
                id: "b", state: .expired, reply: StoredReply(status: 504, code: "timeout"), onlyFrom: RequestState.pending, now: 3_000)
            let outcomes = try store.outcomes(finishedAfter: 1_000, limit: 10)
            #expect(outcomes.sorted { $0.status < $1.status } == [
                RequestOutcome(status: 200, milliseconds: 250), RequestOutcome(status: 504, milliseconds: 2_000),
            ])
            #expect(try store.outcomes(finishedAfter: 1_250, limit: 10) == [RequestOutcome(status: 504, milliseconds: 2_000)])
            #expect(try store.outcomes(finishedAfter: 1_000, limit: 1).count == 1)
        }
    }
}
