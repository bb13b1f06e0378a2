import Foundation
import Synchronization

/// Lets tasks wait until state they watch has changed, without polling.
package final class ChangeSignal: Sendable {
    private struct State {
        var version = 0
        var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    package init() {}

    /// Wakes every waiter.
    package func notify() {
        let waiters = state.withLock { state in
            state.version += 1
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until `condition` holds, re-checking it after every ``notify()``; throws
    /// ``FixtureError/timeout(_:)`` past the limit.
    package func wait(
        _ what: String,
        within limit: Duration = .seconds(10),
        until condition: @escaping @Sendable () -> Bool
    ) async throws {
        try await withTimeout(limit, what) {
            while true {
                let version = self.state.withLock { $0.version }
                if condition() { return }
                await self.waitForChange(after: version)
                try Task.checkCancellation()
            }
        }
    }

    private func waitForChange(after version: Int) async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let changed = state.withLock { state in
                    if state.version != version || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if changed { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
