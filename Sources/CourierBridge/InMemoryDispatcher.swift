import CourierCore
import CourierEngine
import CourierWorkers
import Foundation

/// Runs attempts on a ``WorkerPool`` in this process: no broker hops between bridge and worker.
package final class InMemoryDispatcher: WorkDispatcher {
    private let pool: WorkerPool
    private let sink: ResultSink
    private let progress: ProgressSink
    private let operations: Set<String>

    /// - Parameters:
    ///   - sink: receives every final result (none for a cancelled request); the bridge passes
    ///     its own result handler.
    ///   - progress: receives the handlers' progress reports and heartbeats.
    package init(pool: WorkerPool, sink: @escaping ResultSink, progress: @escaping ProgressSink = { _, _, _, _, _ in }) {
        self.pool = pool
        self.sink = sink
        self.progress = progress
        operations = Set(pool.operations)
    }

    package func hasWorker(for operation: String) -> Bool { operations.contains(operation) }

    package func dispatch(_ request: HandlerRequest, completion: @escaping @Sendable (DispatchOutcome) -> Void) {
        let sink = sink, progress = progress
        let id = request.requestID
        pool.start(request) { update in
            progress(id, update.status, update.percent, update.payload, update.contentType)
        } completion: { outcome in
            if case .answered(let result) = outcome { sink(id, result) }
        }
        completion(.sent)
    }

    package func cancel(requestID: String) { pool.cancel(requestID: requestID) }

    /// Nothing to count: the pool is the only worker.
    package func attemptEnded(requestID: String) {}
}
