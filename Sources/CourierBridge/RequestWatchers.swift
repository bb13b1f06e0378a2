import CourierCore
import Foundation
import Synchronization

/// What happens to a request, as its watchers see it.
package enum RequestEvent: Sendable, Equatable {
    /// An attempt started, or a timed-out one was put back to wait for the next.
    case changed(RequestRecord)
    /// A worker reported progress.
    case progress(ProgressReport)
    /// The request reached its final state; nothing follows.
    case ended(RequestRecord)
}

/// Callers watching requests (`Prefer: wait`, event streams), woken by the engine's effects
/// rather than by polling the store.
final class RequestWatchers: Sendable {
    private let watchers = Mutex<[String: [UUID: AsyncStream<RequestEvent>.Continuation]]>([:])

    /// A stream of the request's events from now on, finished after ``RequestEvent/ended(_:)``;
    /// call ``remove(_:token:)`` when done with it.
    func register(_ id: String) -> (token: UUID, events: AsyncStream<RequestEvent>) {
        let token = UUID()
        let (stream, continuation) = AsyncStream<RequestEvent>.makeStream(bufferingPolicy: .bufferingNewest(64))
        watchers.withLock { $0[id, default: [:]][token] = continuation }
        return (token, stream)
    }

    func remove(_ id: String, token: UUID) {
        let continuation = watchers.withLock { watchers in
            let removed = watchers[id]?.removeValue(forKey: token)
            if watchers[id]?.isEmpty == true { watchers[id] = nil }
            return removed
        }
        continuation?.finish()
    }

    /// Tells everyone watching this request; an end also finishes their streams.
    func notify(_ id: String, _ event: RequestEvent) {
        if case .ended = event {
            guard let watching = watchers.withLock({ $0.removeValue(forKey: id) }) else { return }
            for continuation in watching.values {
                continuation.yield(event)
                continuation.finish()
            }
        } else {
            guard let watching = watchers.withLock({ $0[id] }) else { return }
            for continuation in watching.values { continuation.yield(event) }
        }
    }
}
