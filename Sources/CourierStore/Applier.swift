import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A thread that runs a job every `interval` until ``stop()``: the store's applying of its
/// journal to the SQLite file, off the threads that write requests.
final class Applier: Sendable {
    private let interval: Duration
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)

    init(interval: Duration) {
        self.interval = interval
    }

    /// Starts the thread, which runs `job` every interval.
    func start(_ job: @escaping @Sendable () -> Void) {
        let nanoseconds = Int(interval.components.seconds * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000)
        Thread.detachNewThread { [self] in
            Thread.current.name = "courier.apply"
            // Behind the threads that answer requests when they compete for a core: applying
            // can wait, a device's reply should not (on Linux the nice value is the calling thread's).
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            while wake.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .timedOut, !stopping.load(ordering: .relaxed) {
                job()
            }
            exited.signal()
        }
    }

    /// Stops the thread and waits until it has ended.
    func stop() {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        wake.signal()
        exited.wait()
    }
}
