import Foundation
import GRDB
import Synchronization

/// Moves committed transactions from the WAL into the database file every `interval`, on a
/// thread and a connection of its own (passive checkpoints: writers and readers go on
/// meanwhile), until ``stop()``. Checkpoints, and their `fdatasync`, stay off the threads that
/// write requests.
final class Checkpointer: Sendable {
    private let connection: DatabaseQueue
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)

    init(path: String, interval: Duration) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.label = "courier.store.checkpoint"
        let connection = try DatabaseQueue(path: path, configuration: configuration)
        self.connection = connection
        let nanoseconds = Int(interval.components.seconds * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000)
        Thread.detachNewThread { [self] in
            Thread.current.name = "courier.ckpt"  // Linux thread names have 15 characters at most
            while wake.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .timedOut, !stopping.load(ordering: .relaxed) {
                // A failed checkpoint is retried at the next interval; the writer's own
                // automatic checkpoint is the backstop.
                _ = try? connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
            }
            exited.signal()
        }
    }

    /// Stops the thread, waits until it has ended, and closes the connection.
    func stop() throws {
        stopping.store(true, ordering: .relaxed)
        wake.signal()
        exited.wait()
        try connection.close()
    }
}
