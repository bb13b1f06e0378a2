import Foundation
import Testing

/// Runs `body`, and the child tasks it starts, on threads of their own instead of Swift's
/// cooperative pool.
///
/// The pool has as many threads as cores (two on CI), and every test in the process shares
/// it: work that holds a thread for seconds stalls the other tests' tasks, whose waits then
/// miss their bounds. Swift Testing's exit tests read their child's output with blocking
/// reads for as long as the child runs, and CPU-heavy test bodies (thousands of generated
/// messages, the fuzzing corpus, in a debug build) hold a thread just as long.
package func withOwnThreads<T>(_ body: () async throws -> T) async rethrows -> T {
    try await withTaskExecutorPreference(ThreadPerJobExecutor.shared, operation: body)
}

/// A suite or test whose body runs on threads of its own (``withOwnThreads(_:)``), for
/// bodies that block or compute for long: `@Suite(.ownThreads)`.
package struct OwnThreadsTrait: SuiteTrait, TestTrait, TestScoping {
    package var isRecursive: Bool { true }

    package func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        try await withOwnThreads(function)
    }
}

extension Trait where Self == OwnThreadsTrait {
    /// Runs the body on threads of its own rather than the shared cooperative pool.
    package static var ownThreads: Self { Self() }
}

/// Runs every job on a new thread: jobs that block wait for nobody but themselves.
private final class ThreadPerJobExecutor: TaskExecutor {
    static let shared = ThreadPerJobExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        Thread.detachNewThread { job.runSynchronously(on: executor) }
    }
}
