import Foundation
import Synchronization

/// Runs ``RequestStore/checkpoint()`` on a thread of its own every `interval`, until
/// ``stop()``: checkpoints (and their `fdatasync`) stay off the threads that write requests.
final class Checkpointer: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)

    init(interval: Duration, _ checkpoint: @escaping @Sendable () throws -> Void) {
        let nanoseconds = Int(interval.components.seconds * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000)
        Thread.detachNewThread { [self] in
            Thread.current.name = "courier.checkpoint"
            while wake.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .timedOut, !stopping.load(ordering: .relaxed) {
                // A failed checkpoint is retried at the next interval; the writer's own
                // automatic checkpoint is the backstop.
                try? checkpoint()
            }
            exited.signal()
        }
    }

    /// Stops the thread and waits until it has ended.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        wake.signal()
        exited.wait()
    }
}
