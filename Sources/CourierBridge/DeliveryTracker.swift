import Synchronization

/// Final replies on their way to devices: which are being published (so the delivery sweep
/// does not publish them a second time) and which the broker acknowledged but the store does
/// not know yet (marked delivered in one batch per timer tick).
final class DeliveryTracker: Sendable {
    private struct State {
        var inFlight: Set<String> = []
        var acknowledged: [String] = []
    }

    private let state = Mutex(State())

    /// Claims a record's reply for publishing; false when it is already on its way.
    func begin(_ id: String) -> Bool {
        state.withLock { $0.inFlight.insert(id).inserted }
    }

    func delivered(_ id: String) {
        state.withLock { $0.acknowledged.append(id) }
    }

    func failed(_ id: String) {
        _ = state.withLock { $0.inFlight.remove(id) }
    }

    /// The acknowledged ids to mark in the store; call ``flushed(_:)`` once they are marked.
    func pendingMarks() -> [String] {
        state.withLock { $0.acknowledged }
    }

    func flushed(_ ids: [String]) {
        state.withLock { state in
            state.acknowledged.removeFirst(min(ids.count, state.acknowledged.count))
            state.inFlight.subtract(ids)
        }
    }
}
