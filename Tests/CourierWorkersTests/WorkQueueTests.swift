import Testing

@testable import CourierWorkers

/// The scheduling decisions as plain values: no tasks, no clock.
@Suite struct RecentDurationsTests {
    @Test func noEstimateUntilEnoughRuns() {
        var durations = RecentDurations(capacity: 4, minimumSamples: 3)
        durations.record(milliseconds: 100)
        durations.record(milliseconds: 300)
        #expect(durations.estimate == nil)
        #expect(durations.canFinish(now: 0, deadline: 1))
        durations.record(milliseconds: 200)
        #expect(durations.estimate == 200)
    }

    @Test func theEstimateIsTheMedianOfTheLatestRuns() {
        var durations = RecentDurations(capacity: 3, minimumSamples: 1)
        for milliseconds: Int64 in [10, 1000, 20] { durations.record(milliseconds: milliseconds) }
        // One slow run does not move the median.
        #expect(durations.estimate == 20)
        // The oldest runs make way: now 20, 500, 600.
        durations.record(milliseconds: 500)
        durations.record(milliseconds: 600)
        #expect(durations.estimate == 500)
        // An even count takes the lower middle.
        var even = RecentDurations(capacity: 4, minimumSamples: 1)
        for milliseconds: Int64 in [40, 10, 30, 20] { even.record(milliseconds: milliseconds) }
        #expect(even.estimate == 20)
    }

    @Test func canFinishWhenTheEstimateFitsBeforeTheDeadline() {
        var durations = RecentDurations(capacity: 3, minimumSamples: 1)
        durations.record(milliseconds: 100)
        #expect(durations.canFinish(now: 1_000, deadline: 1_100))
        #expect(!durations.canFinish(now: 1_000, deadline: 1_099))
        // A passed deadline never fits, with or without an estimate.
        #expect(!RecentDurations().canFinish(now: 1_000, deadline: 1_000))
        // No deadline (Int64.max) does not overflow.
        #expect(durations.canFinish(now: 1_000, deadline: .max))
    }
}

@Suite struct WorkQueueTests {
    @Test func startsWhileSlotsAreFreeThenQueues() {
        var queue = WorkQueue(slots: 2, scheduling: .deadlineAware)
        #expect(queue.arrive(ticket: 0, operation: "op", deadline: 10_000, now: 0) == .start)
        #expect(queue.arrive(ticket: 1, operation: "op", deadline: 10_000, now: 0) == .start)
        #expect(queue.arrive(ticket: 2, operation: "op", deadline: 10_000, now: 0) == .wait)
        #expect(queue.freeSlots == 0)
        #expect(queue.waitingCount == 1)
    }

    @Test func aFreedSlotGoesToTheEarliestDeadline() {
        var queue = WorkQueue(slots: 1, scheduling: .deadlineAware)
        _ = queue.arrive(ticket: 0, operation: "op", deadline: 90_000, now: 0)
        for (ticket, deadline) in [(1, 30_000), (2, 10_000), (3, 20_000), (4, 10_000)] as [(UInt64, Int64)] {
            #expect(queue.arrive(ticket: ticket, operation: "op", deadline: deadline, now: 0) == .wait)
        }
        var order: [UInt64] = []
        while queue.waitingCount > 0 {
            for case .start(let ticket) in queue.finished(operation: "op", milliseconds: nil, now: 0) { order.append(ticket) }
        }
        // Equal deadlines in arrival order.
        #expect(order == [2, 4, 3, 1])
        #expect(queue.finished(operation: "op", milliseconds: nil, now: 0) == [])
        #expect(queue.freeSlots == 1)
    }

    @Test func arrivalOrderIsFirstComeFirstServedAndTurnsNothingAway() {
        var queue = WorkQueue(slots: 1, scheduling: .arrivalOrder)
        _ = queue.arrive(ticket: 0, operation: "op", deadline: 90_000, now: 0)
        for (ticket, deadline) in [(1, 30_000), (2, 10_000), (3, 5)] as [(UInt64, Int64)] {
            #expect(queue.arrive(ticket: ticket, operation: "op", deadline: deadline, now: 0) == .wait)
        }
        var decisions: [WorkQueue.Decision] = []
        for _ in 0..<3 { decisions += queue.finished(operation: "op", milliseconds: 50, now: 1_000) }
        #expect(decisions == [.start(1), .start(2), .start(3)])
        // Even a passed deadline is started.
        #expect(queue.arrive(ticket: 4, operation: "op", deadline: 1, now: 1_000) == .wait)
    }

    @Test func workThatCannotFinishInTimeIsTurnedAwayOnArrival() {
        var queue = WorkQueue(slots: 4, scheduling: .deadlineAware)
        #expect(queue.arrive(ticket: 0, operation: "op", deadline: 1_000, now: 1_000) == .late)
        queue.runs(of: "slow", milliseconds: 400)
        #expect(queue.estimate(for: "slow") == 400)
        #expect(queue.arrive(ticket: 1, operation: "slow", deadline: 1_300, now: 1_000) == .late)
        #expect(queue.arrive(ticket: 2, operation: "slow", deadline: 1_400, now: 1_000) == .start)
        // Another operation has its own estimate (none yet).
        #expect(queue.arrive(ticket: 3, operation: "fast", deadline: 1_001, now: 1_000) == .start)
    }

    @Test func aFreedSlotSkipsWaitingWorkThatCanNoLongerFinish() {
        var queue = WorkQueue(slots: 1, scheduling: .deadlineAware)
        queue.runs(of: "op", milliseconds: 100)
        _ = queue.arrive(ticket: 0, operation: "op", deadline: 10_000, now: 0)
        _ = queue.arrive(ticket: 1, operation: "op", deadline: 500, now: 0)
        _ = queue.arrive(ticket: 2, operation: "op", deadline: 600, now: 0)
        _ = queue.arrive(ticket: 3, operation: "op", deadline: 5_000, now: 0)
        // At 550 ms, 1 and 2 have less than 100 ms left.
        #expect(queue.finished(operation: "op", milliseconds: 100, now: 550) == [.late(1), .late(2), .start(3)])
        #expect(queue.waitingCount == 0)
    }

    @Test func removedWorkLeavesTheQueue() {
        var queue = WorkQueue(slots: 1, scheduling: .deadlineAware)
        _ = queue.arrive(ticket: 0, operation: "op", deadline: 10_000, now: 0)
        _ = queue.arrive(ticket: 1, operation: "op", deadline: 1_000, now: 0)
        _ = queue.arrive(ticket: 2, operation: "op", deadline: 2_000, now: 0)
        let removals = [queue.remove(ticket: 1), queue.remove(ticket: 1), queue.remove(ticket: 0)]
        // Once, and not the running one.
        #expect(removals == [true, false, false])
        #expect(queue.finished(operation: "op", milliseconds: nil, now: 0) == [.start(2)])
        #expect(queue.finished(operation: "op", milliseconds: nil, now: 0) == [])
        #expect(queue.freeSlots == 1)
    }

    @Test func manyRemovalsKeepTheOrder() {
        var queue = WorkQueue(slots: 1, scheduling: .deadlineAware)
        _ = queue.arrive(ticket: 0, operation: "op", deadline: .max, now: 0)
        for ticket in UInt64(1)...300 { _ = queue.arrive(ticket: ticket, operation: "op", deadline: Int64(1_000_000 - ticket), now: 0) }
        for ticket in UInt64(1)...300 where ticket % 3 != 0 {
            let removed = queue.remove(ticket: ticket)
            #expect(removed)
        }
        var order: [UInt64] = []
        while queue.waitingCount > 0 {
            for case .start(let ticket) in queue.finished(operation: "op", milliseconds: nil, now: 0) { order.append(ticket) }
        }
        #expect(order == Array(stride(from: UInt64(300), through: 3, by: -3)))
    }
}

extension WorkQueue {
    /// Three runs of an operation, one after the other, each taking `milliseconds`.
    mutating func runs(of operation: String, milliseconds: Int64) {
        for ticket in UInt64(1_000)..<1_003 {
            #expect(arrive(ticket: ticket, operation: operation, deadline: .max, now: 0) == .start)
            #expect(finished(operation: operation, milliseconds: milliseconds, now: 0) == [])
        }
    }
}
