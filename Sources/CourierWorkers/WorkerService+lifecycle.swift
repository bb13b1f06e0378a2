import Synchronization

extension WorkerService {
    /// Where one run of the service stands, and how much work it holds. Shared by the task that
    /// reads work messages, the tasks that answer them, the task that drives start-up and
    /// shutdown, and the task that shuts the client down.
    ///
    /// `connecting -> serving -> draining -> stopped`; any phase may jump to `stopped` (start-up
    /// failed, graceful shutdown before the broker answered, cancellation). Work is accepted
    /// while serving or draining: what reaches the worker while it drains arrived before the
    /// broker took the unsubscribe, and is answered rather than left to the bridge's retry.
    final class Lifecycle: Sendable {
        enum Phase: Equatable, Sendable {
            case connecting
            case serving
            case draining
            case stopped
        }

        private struct State {
            var phase = Phase.connecting
            /// Work messages taken from the client and not yet answered.
            var inFlight = 0
            var idleWaiters: [CheckedContinuation<Void, Never>] = []
            var stopWaiters: [CheckedContinuation<Void, Never>] = []
        }

        private let state = Mutex(State())

        var phase: Phase { state.withLock { $0.phase } }

        var inFlight: Int { state.withLock { $0.inFlight } }

        /// `connecting -> serving`; false when the run stopped meanwhile.
        func markServing() -> Bool {
            state.withLock { state in
                guard state.phase == .connecting else { return false }
                state.phase = .serving
                return true
            }
        }

        /// Stops the run if it is still waiting for the broker: a graceful shutdown then has
        /// nothing to drain. Once connected, shutdown goes through ``beginDraining()``.
        func stopIfConnecting() {
            let waiters = state.withLock { state in
                state.phase == .connecting ? Self.stop(&state) : []
            }
            for waiter in waiters { waiter.resume() }
        }

        /// `serving -> draining`.
        func beginDraining() {
            state.withLock { state in
                if state.phase == .serving { state.phase = .draining }
            }
        }

        /// Counts a work message in; false once stopped (the message is not answered).
        func enter() -> Bool {
            state.withLock { state in
                switch state.phase {
                case .serving, .draining:
                    state.inFlight += 1
                    return true
                case .connecting, .stopped:
                    return false
                }
            }
        }

        /// Counts a work message out once its reply is published (or failed).
        func leave() {
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.inFlight -= 1
                guard state.inFlight == 0 else { return [] }
                defer { state.idleWaiters = [] }
                return state.idleWaiters
            }
            for waiter in waiters { waiter.resume() }
        }

        /// Waits until no work is in flight, then stops, atomically: work that arrives after this
        /// returns is refused by ``enter()``. Returns at once when already stopped.
        func stopWhenIdle() async {
            while true {
                let stopped = state.withLock { state -> Bool in
                    guard state.phase != .stopped else { return true }
                    return state.inFlight == 0
                }
                if stopped {
                    stop()
                    return
                }
                await waitUntilIdle()
            }
        }

        /// Waits until no work is in flight or the run stopped.
        func waitUntilIdle() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = state.withLock { state in
                    if state.inFlight == 0 || state.phase == .stopped { return true }
                    state.idleWaiters.append(continuation)
                    return false
                }
                if done { continuation.resume() }
            }
        }

        /// Ends the run: no more work is accepted and every waiter returns. Idempotent.
        func stop() {
            let waiters = state.withLock { Self.stop(&$0) }
            for waiter in waiters { waiter.resume() }
        }

        /// Moves to `stopped`; returns the waiters to resume once the lock is released.
        private static func stop(_ state: inout State) -> [CheckedContinuation<Void, Never>] {
            state.phase = .stopped
            defer {
                state.idleWaiters = []
                state.stopWaiters = []
            }
            return state.idleWaiters + state.stopWaiters
        }

        /// Returns once ``stop()`` has been called.
        func waitUntilStopped() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let stopped = state.withLock { state in
                    if state.phase == .stopped { return true }
                    state.stopWaiters.append(continuation)
                    return false
                }
                if stopped { continuation.resume() }
            }
        }
    }
}
