import CourierCore
import Logging
import Synchronization

/// Runs requests through their operations' handlers, at most `concurrency` at a time.
///
/// ``perform(_:)`` never throws: whatever happens becomes the ``HandlerResponse`` to send back.
/// A ``HandlerError`` becomes its status with an error body, any other error 500 `worker_error`,
/// an operation without a handler 404 `unknown_operation`. Requests beyond the limit wait for a
/// free slot in arrival order. ``drain()`` waits for everything accepted to finish, for a
/// graceful shutdown: stop taking work, then drain.
public final class WorkerPool: Sendable {
    /// How many handlers may run at once.
    public let concurrency: Int
    /// The operations served, sorted.
    public let operations: [String]

    private let handlers: [String: any OperationHandler]
    private let slots: AsyncSemaphore
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var inFlight = 0
        var running = 0
        var drainers: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextDrainer: UInt64 = 0
        var cancelledDrainers: Set<UInt64> = []
    }

    /// - Parameters:
    ///   - handlers: one per operation; two handlers for one operation are a programming error.
    ///   - concurrency: how many handlers may run at once, at least 1.
    ///   - logger: where handler failures are logged (at `info`, with request metadata).
    public init(
        handlers: [any OperationHandler],
        concurrency: Int,
        logger: Logger = Logger(label: "courier.workers", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        precondition(concurrency >= 1, "a worker pool needs at least one slot")
        var byOperation: [String: any OperationHandler] = [:]
        for handler in handlers {
            precondition(byOperation[handler.operation] == nil, "two handlers for operation \(handler.operation)")
            byOperation[handler.operation] = handler
        }
        self.handlers = byOperation
        self.operations = byOperation.keys.sorted()
        self.concurrency = concurrency
        self.slots = AsyncSemaphore(permits: concurrency)
        self.logger = logger
    }

    /// Requests accepted by ``perform(_:)`` and not yet answered, running or waiting for a slot.
    public var inFlight: Int { state.withLock { $0.inFlight } }

    /// Requests whose handler is running now (at most ``concurrency``).
    public var running: Int { state.withLock { $0.running } }

    /// Requests waiting for a free slot.
    public var waiting: Int { slots.waitingCount }

    /// The handler serving an operation, if any.
    public func handler(for operation: String) -> (any OperationHandler)? {
        handlers[operation]
    }

    /// Runs one request through its handler once a slot is free, and says what to reply. If the
    /// calling task is cancelled while the request waits for a slot, the answer is 503
    /// `unavailable` and the handler is not run.
    public func perform(_ request: HandlerRequest) async -> HandlerResponse {
        state.withLock { $0.inFlight += 1 }
        defer { finish() }

        guard let handler = handlers[request.operation] else {
            let message = "this worker has no handler for operation \(request.operation)"
            return Self.errorResult(HandlerError(.unknownOperation, message))
        }
        do {
            try await slots.wait()
        } catch {
            return Self.errorResult(HandlerError(.unavailable, "the worker stopped before the request could run"))
        }
        state.withLock { $0.running += 1 }
        defer {
            state.withLock { $0.running -= 1 }
            slots.signal()
        }
        return await run(handler, request)
    }

    /// Returns once nothing is in flight: immediately when idle, otherwise when the last request
    /// accepted by ``perform(_:)`` has its result. Work that arrives meanwhile is waited for too,
    /// so stop taking work first. Returns early if the calling task is cancelled.
    public func drain() async {
        let ticket: UInt64? = state.withLock { state in
            guard state.inFlight > 0 else { return nil }
            defer { state.nextDrainer += 1 }
            return state.nextDrainer
        }
        guard let ticket else { return }
        defer { state.withLock { _ = $0.cancelledDrainers.remove(ticket) } }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = state.withLock { state in
                    if state.inFlight == 0 || state.cancelledDrainers.contains(ticket) { return true }
                    state.drainers[ticket] = continuation
                    return false
                }
                if done { continuation.resume() }
            }
        } onCancel: {
            let drainer = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if let drainer = state.drainers.removeValue(forKey: ticket) { return drainer }
                state.cancelledDrainers.insert(ticket)
                return nil
            }
            drainer?.resume()
        }
    }

    /// Tasks suspended in ``drain()``; for tests.
    var drainingCount: Int { state.withLock { $0.drainers.count } }

    // MARK: Running

    private func run(_ handler: any OperationHandler, _ request: HandlerRequest) async -> HandlerResponse {
        do {
            return try await handler.handle(request)
        } catch let error as HandlerError {
            if error.status >= 500 {
                logger.info("handler failed", metadata: request.logMetadata.merging(["error": "\(error)"]) { _, new in new })
            }
            return Self.errorResult(error)
        } catch is CancellationError where Task.isCancelled {
            return Self.errorResult(HandlerError(.unavailable, "the worker stopped before the request finished"))
        } catch {
            logger.info(
                "handler failed without a status",
                metadata: request.logMetadata.merging(["error": "\(error)", "error.type": "\(type(of: error))"]) { _, new in new }
            )
            return Self.errorResult(HandlerError(.workerError, "the handler for \(request.operation) failed"))
        }
    }

    private func finish() {
        let drainers = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.inFlight -= 1
            guard state.inFlight == 0, !state.drainers.isEmpty else { return [] }
            defer { state.drainers.removeAll() }
            return Array(state.drainers.values)
        }
        for drainer in drainers { drainer.resume() }
    }

    /// The reply for an error: its status and the JSON error body.
    public static func errorResult(_ error: HandlerError) -> HandlerResponse {
        HandlerResponse(status: error.status, payload: error.body.encoded(), contentType: ErrorBody.contentType)
    }
}
