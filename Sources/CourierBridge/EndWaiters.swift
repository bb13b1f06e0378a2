import CourierCore
import Foundation
import Synchronization

/// Callers waiting for requests to end, woken by the engine's ``Effect/ended(_:)`` rather
/// than by polling the store.
final class EndWaiters: Sendable {
    private let waiters = Mutex<[String: [UUID: AsyncStream<RequestRecord>.Continuation]]>([:])

    /// A stream that yields the request's final record once it ends; call ``remove(_:token:)``
    /// when done with it.
    func register(_ id: String) -> (token: UUID, ended: AsyncStream<RequestRecord>) {
        let token = UUID()
        let (stream, continuation) = AsyncStream<RequestRecord>.makeStream(bufferingPolicy: .bufferingNewest(1))
        waiters.withLock { $0[id, default: [:]][token] = continuation }
        return (token, stream)
    }

    func remove(_ id: String, token: UUID) {
        let continuation = waiters.withLock { waiters in
            let removed = waiters[id]?.removeValue(forKey: token)
            if waiters[id]?.isEmpty == true { waiters[id] = nil }
            return removed
        }
        continuation?.finish()
    }

    /// Wakes everyone waiting for this request.
    func ended(_ record: RequestRecord) {
        guard let waiting = waiters.withLock({ $0.removeValue(forKey: record.id) }) else { return }
        for continuation in waiting.values {
            continuation.yield(record)
            continuation.finish()
        }
    }
}
