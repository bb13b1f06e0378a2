import CourierCore
import CourierEngine
import CourierWorkers

/// Runs attempts on a ``WorkerPool`` in this process: no broker hops between bridge and worker.
public final class InMemoryDispatcher: WorkDispatcher {
    private let pool: WorkerPool
    private let sink: ResultSink
    private let operations: Set<String>

    /// - Parameter sink: receives every result; the bridge passes its own result handler.
    public init(pool: WorkerPool, sink: @escaping ResultSink) {
        self.pool = pool
        self.sink = sink
        operations = Set(pool.operations)
    }

    public func hasWorker(for operation: String) -> Bool { operations.contains(operation) }

    public func dispatch(_ request: HandlerRequest, completion: @escaping @Sendable (DispatchOutcome) -> Void) {
        let pool = pool, sink = sink
        Task {
            let result = await pool.perform(request)
            sink(request.requestID, result)
        }
        completion(.sent)
    }

    public func cancel(requestID: String) {}
}
