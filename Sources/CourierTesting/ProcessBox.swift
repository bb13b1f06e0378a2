import CourierProcess
import Foundation
import Synchronization

/// A restartable child process, stopped by PID.
package final class ProcessBox: Sendable {
    private let current = Mutex<ChildProcess?>(nil)

    package init() {}

    /// Starts the executable (looked up on PATH unless it is a path), stdout and stderr to
    /// `output` or discarded.
    package func start(executable: String, arguments: [String], environment: [String: String]? = nil, output: URL? = nil) throws {
        let child = try ChildProcess.spawn(executable, arguments, environment: environment, output: output?.path)
        current.withLock { $0 = child }
    }

    package var isRunning: Bool { current.withLock { $0?.isRunning ?? false } }

    package var pid: Int32? { current.withLock { $0?.pid } }

    /// Sends SIGTERM without waiting.
    package func terminate() {
        signal(SIGTERM)
    }

    /// Sends a signal without waiting.
    package func signal(_ signal: Int32) {
        current.withLock { $0 }?.signal(signal)
    }

    /// Sends a signal and waits until the process has exited; returns its exit status.
    @discardableResult
    package func terminateAndWait(signal: Int32) async -> Int32? {
        guard let child = current.withLock({ $0 }) else { return nil }
        child.signal(signal)
        return await child.wait()
    }
}
