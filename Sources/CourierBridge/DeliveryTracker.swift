import Synchronization

/// Final replies on their way to devices, so the delivery sweep does not publish a reply a
/// second time while the first is still waiting for its PUBACK.
final class DeliveryTracker: Sendable {
    private let inFlight = Mutex<Set<String>>([])

    /// Claims a record's reply for publishing; false when it is already on its way.
    func begin(_ id: String) -> Bool {
        inFlight.withLock { $0.insert(id).inserted }
    }

    /// Releases the claims: the replies were marked delivered, or failed and are left to the
    /// sweep.
    func end(_ ids: some Sequence<String>) {
        inFlight.withLock { $0.subtract(ids) }
    }
}
