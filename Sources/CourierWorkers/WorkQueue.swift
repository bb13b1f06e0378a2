/// The pool's scheduling decisions as plain values: which waiting attempt a free slot goes to,
/// and which attempts are turned away because they cannot finish before their deadline. No
/// tasks, locks or clocks: ``WorkerPool`` holds one under its lock and carries out what it says.
struct WorkQueue: Sendable {
    /// What becomes of an attempt that arrives.
    enum Admission: Equatable, Sendable {
        /// A slot was free: run it now.
        case start
        /// Every slot is busy: it waits for one.
        case wait
        /// It cannot finish before its deadline: answer 504 without running it.
        case late
    }

    /// What to do with a waiting attempt once a slot frees.
    enum Decision: Equatable, Sendable {
        /// It takes the freed slot.
        case start(UInt64)
        /// It can no longer finish in time: answer 504 without running it.
        case late(UInt64)
    }

    private struct Waiting: Sendable {
        var operation: String
        var deadline: Int64
    }

    let scheduling: WorkerPool.Scheduling
    private(set) var freeSlots: Int
    /// A binary min-heap of (rank, ticket): the rank is the deadline, or the ticket itself in
    /// arrival order. Tickets removed while waiting stay until they come to the top.
    private var heap: [(rank: Int64, ticket: UInt64)] = []
    private var waiting: [UInt64: Waiting] = [:]
    private var durations: [String: RecentDurations] = [:]

    init(slots: Int, scheduling: WorkerPool.Scheduling) {
        freeSlots = slots
        self.scheduling = scheduling
    }

    /// Attempts waiting for a slot.
    var waitingCount: Int { waiting.count }

    /// The current run-time estimate of an operation, in milliseconds.
    func estimate(for operation: String) -> Int64? { durations[operation]?.estimate }

    /// An attempt arrives at `now` (unix ms). Tickets must grow with arrival.
    mutating func arrive(ticket: UInt64, operation: String, deadline: Int64, now: Int64) -> Admission {
        if scheduling == .deadlineAware, !canFinish(operation, deadline: deadline, now: now) { return .late }
        if freeSlots > 0, waiting.isEmpty {
            freeSlots -= 1
            return .start
        }
        waiting[ticket] = Waiting(operation: operation, deadline: deadline)
        push((scheduling == .deadlineAware ? deadline : Int64(truncatingIfNeeded: ticket), ticket))
        return .wait
    }

    /// A running attempt of `operation` ended at `now`, after `milliseconds` (nil when its run
    /// says nothing about the operation, e.g. it was cancelled). The freed slot goes to the
    /// first waiting attempt that can still finish in time; those before it that cannot are
    /// turned away.
    mutating func finished(operation: String, milliseconds: Int64?, now: Int64) -> [Decision] {
        if let milliseconds { durations[operation, default: RecentDurations()].record(milliseconds: milliseconds) }
        var decisions: [Decision] = []
        while let (ticket, entry) = popWaiting() {
            if scheduling == .deadlineAware, !canFinish(entry.operation, deadline: entry.deadline, now: now) {
                decisions.append(.late(ticket))
                continue
            }
            decisions.append(.start(ticket))
            return decisions
        }
        freeSlots += 1
        return decisions
    }

    /// Takes a waiting attempt out of the queue (it was cancelled); false if it was not waiting.
    mutating func remove(ticket: UInt64) -> Bool {
        guard waiting.removeValue(forKey: ticket) != nil else { return false }
        // Removed tickets stay in the heap; rebuild it once they are most of it.
        if heap.count > 64, heap.count > 2 * waiting.count {
            heap = heap.filter { waiting[$0.ticket] != nil }
            heap.sort { Self.less($0, $1) }
        }
        return true
    }

    private func canFinish(_ operation: String, deadline: Int64, now: Int64) -> Bool {
        (durations[operation] ?? RecentDurations()).canFinish(now: now, deadline: deadline)
    }

    // MARK: Heap

    private static func less(_ a: (rank: Int64, ticket: UInt64), _ b: (rank: Int64, ticket: UInt64)) -> Bool {
        a.rank != b.rank ? a.rank < b.rank : a.ticket < b.ticket
    }

    private mutating func push(_ element: (rank: Int64, ticket: UInt64)) {
        heap.append(element)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// The waiting attempt with the lowest rank, skipping removed ones.
    private mutating func popWaiting() -> (UInt64, Waiting)? {
        while let top = heap.first {
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                siftDown()
            }
            if let entry = waiting.removeValue(forKey: top.ticket) { return (top.ticket, entry) }
        }
        return nil
    }

    private mutating func siftDown() {
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, Self.less(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, Self.less(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
