import Synchronization

/// Store work that may wait a moment, gathered and processed in batches by whoever drains the
/// queue: a group commit, one transaction per batch however many items it holds.
///
/// The bridge drains it on its network thread (`schedule` is the event loop's `execute`), the
/// thread that also records intake: one writer, so store writes never wait on each other, and
/// the replies a batch publishes go out in the same pass.
///
/// Bounded: ``submit(_:)`` refuses items beyond `capacity`, and after ``close()``.
final class CommitQueue<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        /// A drain was scheduled and has not yet found the queue empty.
        var scheduled = false
        var processing = false
        var closed = false
    }

    private let state = Mutex(State())
    private let maxBatch: Int
    private let capacity: Int
    private let schedule: @Sendable (@escaping @Sendable () -> Void) -> Void
    private let process: @Sendable ([Item]) -> Void

    /// - Parameters:
    ///   - maxBatch: the most items one call of `process` gets.
    ///   - schedule: runs the given drain soon, never concurrently with another drain.
    ///   - process: handles one batch, in submission order.
    init(
        maxBatch: Int = 512,
        capacity: Int = 100_000,
        schedule: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void,
        process: @escaping @Sendable ([Item]) -> Void
    ) {
        self.maxBatch = maxBatch
        self.capacity = capacity
        self.schedule = schedule
        self.process = process
    }

    /// Queues an item and, when `urgent`, makes sure a drain is scheduled; an item that is not
    /// urgent waits for the next drain (see ``flushSoon()``). A drain in progress takes the
    /// item before it ends, so none is scheduled then: a worker's answer given while its
    /// request's batch commits is committed by the same drain, in the same pass of the loop.
    /// False (and the item is dropped) when the queue is full or closed.
    @discardableResult
    func submit(_ item: Item, urgent: Bool = true) -> Bool {
        let outcome: Bool? = state.withLock { state in
            guard !state.closed, state.items.count < capacity else { return nil }
            state.items.append(item)
            guard urgent, !state.processing else { return false }
            defer { state.scheduled = true }
            return !state.scheduled
        }
        guard let outcome else { return false }
        if outcome { schedule { [self] in drain() } }
        return true
    }

    /// Schedules a drain if items wait and none is scheduled: for items that were not urgent.
    func flushSoon() {
        let needed = state.withLock { state in
            guard !state.items.isEmpty, !state.scheduled else { return false }
            state.scheduled = true
            return true
        }
        if needed { schedule { [self] in drain() } }
    }

    /// Processes everything queued, batch by batch, on the calling thread. Only from the
    /// scheduler's context (or once it has stopped).
    func drain() {
        drain { batch in if !batch.isEmpty { process(batch) } }
    }

    /// Hands what is queued to `body`, batch by batch, on the calling thread, until it finds
    /// the queue empty (items queued meanwhile included); `body` is called at least once, with
    /// no items when none are queued. Only from the scheduler's context.
    func drain(_ body: ([Item]) -> Void) {
        var first = true
        while true {
            let batch: [Item]? = state.withLock { state in
                guard !state.items.isEmpty else {
                    guard first else {
                        state.scheduled = false
                        state.processing = false
                        return nil
                    }
                    state.processing = true
                    return []
                }
                state.processing = true
                if state.items.count <= maxBatch {
                    defer { state.items = [] }
                    return state.items
                }
                defer { state.items.removeFirst(maxBatch) }
                return Array(state.items.prefix(maxBatch))
            }
            guard let batch else { return }
            first = false
            body(batch)
        }
    }

    /// True when nothing is queued or being processed.
    var isIdle: Bool {
        state.withLock { $0.items.isEmpty && !$0.processing }
    }

    /// Refuses new items and processes those queued, on the calling thread. Call once the
    /// scheduler no longer runs drains.
    func close() {
        state.withLock { $0.closed = true }
        drain()
    }
}
