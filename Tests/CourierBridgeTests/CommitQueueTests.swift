import Dispatch
import Synchronization
import Testing

@testable import CourierBridge

/// The group-commit queue, driven by a serial dispatch queue standing in for the bridge's loop.
@Suite("CommitQueue", .timeLimit(.minutes(1)))
struct CommitQueueTests {
    /// What the queue processed, batch by batch.
    final class Batches: Sendable {
        let batches = Mutex<[[Int]]>([])
        var all: [Int] { batches.withLock { $0.flatMap { $0 } } }
        var count: Int { batches.withLock { $0.count } }
    }

    static func makeQueue(maxBatch: Int = 512, capacity: Int = 100, into batches: Batches, loop: DispatchQueue) -> CommitQueue<Int> {
        CommitQueue<Int>(maxBatch: maxBatch, capacity: capacity, schedule: { work in loop.async(execute: work) }) { batch in
            batches.batches.withLock { $0.append(batch) }
        }
    }

    @Test func itemsSubmittedWhileADrainIsScheduledShareOneBatch() {
        let loop = DispatchQueue(label: "loop")
        let batches = Batches()
        let queue = Self.makeQueue(into: batches, loop: loop)
        loop.sync {
            // The drain scheduled by the first submit runs only after this block.
            for item in 1...5 { #expect(queue.submit(item)) }
            #expect(!queue.isIdle)
        }
        loop.sync {}
        #expect(batches.batches.withLock { $0 } == [[1, 2, 3, 4, 5]])
        #expect(queue.isIdle)
    }

    @Test func batchesAreCappedAndKeepOrder() {
        let loop = DispatchQueue(label: "loop")
        let batches = Batches()
        let queue = Self.makeQueue(maxBatch: 2, into: batches, loop: loop)
        loop.sync {
            for item in 1...5 { queue.submit(item) }
        }
        loop.sync {}
        #expect(batches.batches.withLock { $0 } == [[1, 2], [3, 4], [5]])
    }

    @Test func itemsThatAreNotUrgentWaitForTheNextDrain() {
        let loop = DispatchQueue(label: "loop")
        let batches = Batches()
        let queue = Self.makeQueue(into: batches, loop: loop)
        queue.submit(1, urgent: false)
        loop.sync {}
        #expect(batches.count == 0)
        #expect(!queue.isIdle)

        queue.submit(2)  // urgent: takes the waiting one along
        loop.sync {}
        #expect(batches.batches.withLock { $0 } == [[1, 2]])

        queue.submit(3, urgent: false)
        queue.flushSoon()
        loop.sync {}
        #expect(batches.all == [1, 2, 3])
    }

    @Test func anExplicitDrainHandsTheBodyAnEmptyBatchWhenNothingWaits() {
        let loop = DispatchQueue(label: "loop")
        let batches = Batches()
        let queue = Self.makeQueue(into: batches, loop: loop)
        var seen: [[Int]] = []
        loop.sync { queue.drain { seen.append($0) } }
        #expect(seen == [[]])
        #expect(batches.count == 0)
    }

    @Test func itemsSubmittedDuringADrainAreTakenByItWithoutAnotherBeingScheduled() {
        let loop = DispatchQueue(label: "loop")
        let batches = Batches()
        let scheduled = Atomic(0)
        let queue = CommitQueue<Int>(schedule: { work in
            scheduled.add(1, ordering: .relaxed)
            loop.async(execute: work)
        }) { batch in batches.batches.withLock { $0.append(batch) } }
        var seen: [[Int]] = []
        loop.sync {
            // As the bridge's intake does: its batch's commit answers items of its own.
            queue.drain { batch in
                seen.append(batch)
                if batch.isEmpty { #expect(queue.submit(1) && queue.submit(2)) }
            }
            #expect(queue.isIdle)
        }
        loop.sync {}
        #expect(seen == [[], [1, 2]])
        #expect(scheduled.load(ordering: .relaxed) == 0)
        #expect(queue.submit(3))
        loop.sync {}
        #expect(scheduled.load(ordering: .relaxed) == 1)
        #expect(batches.all == [3])
    }

    @Test func aFullOrClosedQueueRefusesItemsAndCloseProcessesWhatWaits() {
        let loop = DispatchQueue(label: "loop")
        let batches = Batches()
        let queue = Self.makeQueue(capacity: 2, into: batches, loop: loop)
        loop.sync {
            #expect(queue.submit(1, urgent: false))
            #expect(queue.submit(2, urgent: false))
            #expect(!queue.submit(3, urgent: false))
        }
        loop.sync { queue.close() }
        #expect(batches.all == [1, 2])
        #expect(!queue.submit(4))
        #expect(queue.isIdle)
    }
}
