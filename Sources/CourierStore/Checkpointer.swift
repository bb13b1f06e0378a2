import GRDB

/// Moves committed transactions from the WAL into the database file every `interval`, on a
/// thread and a connection of its own (passive checkpoints: writers and readers go on
/// meanwhile), until ``stop()``. Checkpoints, and their `fdatasync`, stay off the threads that
/// write requests.
final class Checkpointer: Sendable {
    private let connection: DatabaseQueue
    private let thread: PeriodicThread

    init(path: String, interval: Duration) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.label = "courier.store.checkpoint"
        let connection = try DatabaseQueue(path: path, configuration: configuration)
        self.connection = connection
        thread = PeriodicThread(name: "courier.ckpt", interval: interval)
        thread.start {
            // A failed checkpoint is retried at the next interval; the writer's own automatic
            // checkpoint is the backstop.
            _ = try? connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
        }
    }

    /// Stops the thread, waits until it has ended, and closes the connection.
    func stop() throws {
        thread.stop()
        try connection.close()
    }
}
