import Synchronization

/// A counting semaphore for tasks. A task that finds no permit suspends (no polling) and is woken
/// in first-come, first-served order when one is signalled; a waiting task that is cancelled
/// stops waiting and throws `CancellationError`.
final class AsyncSemaphore: Sendable {
    private typealias Waiter = CheckedContinuation<Void, any Error>

    private struct State {
        var permits: Int
        /// Waiters by ticket, and the tickets in the order they started waiting. A ticket whose
        /// waiter was cancelled stays in `queue` until it reaches the front and is skipped.
        var waiters: [UInt64: Waiter] = [:]
        var queue: [UInt64] = []
        var head = 0
        var nextTicket: UInt64 = 0
        /// Tickets cancelled before their waiter was registered.
        var cancelled: Set<UInt64> = []

        mutating func popWaiter() -> Waiter? {
            while head < queue.count {
                let ticket = queue[head]
                head += 1
                if let waiter = waiters.removeValue(forKey: ticket) {
                    compact()
                    return waiter
                }
            }
            compact()
            return nil
        }

        /// Drops served tickets once they are most of the queue, so it does not grow for ever.
        private mutating func compact() {
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 64, head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
        }
    }

    private let state: Mutex<State>

    init(permits: Int) {
        precondition(permits >= 0, "a semaphore cannot start with fewer than 0 permits")
        state = Mutex(State(permits: permits))
    }

    /// Permits free right now.
    var availablePermits: Int { state.withLock { $0.permits } }

    /// Tasks suspended in ``wait()``.
    var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Takes a permit, suspending until one is free.
    func wait() async throws {
        try Task.checkCancellation()
        let ticket: UInt64? = state.withLock { state in
            if state.permits > 0, state.waiters.isEmpty {
                state.permits -= 1
                return nil
            }
            defer { state.nextTicket += 1 }
            return state.nextTicket
        }
        guard let ticket else { return }
        defer { state.withLock { _ = $0.cancelled.remove(ticket) } }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: Waiter) in
                let outcome: Result<Void, any Error>? = state.withLock { state in
                    if state.cancelled.contains(ticket) { return .failure(CancellationError()) }
                    // Permits only pile up while nobody waits, so taking one here is fair.
                    if state.permits > 0 {
                        state.permits -= 1
                        return .success(())
                    }
                    state.waiters[ticket] = continuation
                    state.queue.append(ticket)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                if let waiter = state.waiters.removeValue(forKey: ticket) { return waiter }
                state.cancelled.insert(ticket)
                return nil
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Returns a permit, waking the longest-waiting task if there is one.
    func signal() {
        let waiter = state.withLock { state -> Waiter? in
            if let waiter = state.popWaiter() { return waiter }
            state.permits += 1
            return nil
        }
        waiter?.resume()
    }
}
