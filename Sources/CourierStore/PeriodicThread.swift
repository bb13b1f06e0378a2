import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A thread of its own that runs a job every `interval`, from ``start(_:)`` until ``stop()``:
/// the store's applying of its journal and its WAL checkpoints, off the threads that write
/// requests.
final class PeriodicThread: Sendable {
    private let name: String
    private let interval: Duration
    private let niceness: Int32
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - name: the thread's name, as `top -H` and perf show it (Linux keeps 15 characters).
    ///   - niceness: added to the thread's nice value, to let the threads that answer
    ///     requests go first when they compete for a core.
    init(name: String, interval: Duration, niceness: Int32 = 0) {
        precondition(name.utf8.count <= 15, "Linux refuses a thread name longer than 15 bytes")
        self.name = name
        self.interval = interval
        self.niceness = niceness
    }

    /// Starts the thread, which runs `job` every interval.
    func start(_ job: @escaping @Sendable () -> Void) {
        let nanoseconds = Int(interval.components.seconds * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000)
        Thread.detachNewThread { [self] in
            Thread.current.name = name
            // On Linux the nice value is the calling thread's own.
            if niceness != 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness) }
            while wake.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .timedOut, !stopping.load(ordering: .relaxed) {
                job()
            }
            exited.signal()
        }
    }

    /// Stops the thread and waits until it has ended. Safe to call more than once.
    func stop() {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        wake.signal()
        exited.wait()
    }
}
