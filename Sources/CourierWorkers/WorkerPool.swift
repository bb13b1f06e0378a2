import CourierCore
import Logging
import Synchronization

/// Runs requests through their operations' handlers, at most `concurrency` at a time.
///
/// ``attempt(_:progress:)`` and ``perform(_:)`` never throw: whatever happens becomes the
/// ``HandlerResponse`` to send back. A ``HandlerError`` becomes its status with an error body,
/// any other error 500 `worker_error`, an operation without a handler 404 `unknown_operation`.
///
/// Scheduling (``Scheduling/deadlineAware``, the default): requests beyond the limit wait for a
/// free slot earliest deadline first, and an attempt is not started when it cannot finish
/// before its deadline given what its operation has taken recently (``RecentDurations``, the
/// median of the last runs): it is answered 504 `timeout` at once and counted in
/// ``Counters/late``. ``cancel(requestID:)`` cancels a request's handler task or takes it out
/// of the queue. ``drain()`` waits for everything accepted to finish, for a graceful shutdown:
/// stop taking work, then drain.
public final class WorkerPool: Sendable {
    /// How waiting requests are ordered when every slot is busy.
    public enum Scheduling: Sendable, Equatable {
        /// Earliest deadline first; attempts that cannot finish in time are answered 504.
        case deadlineAware
        /// First come, first served; every attempt runs (the baseline to compare against).
        case arrivalOrder
    }

    /// What became of one attempt.
    public enum Outcome: Sendable, Equatable {
        /// The reply to send.
        case answered(HandlerResponse)
        /// The request was cancelled (``cancel(requestID:)``): send nothing.
        case cancelled
    }

    /// What the pool has done since it was made.
    public struct Counters: Sendable, Equatable {
        /// Attempts whose handler ran to the end (any status).
        public var ran = 0
        /// Attempts answered 504 without running: they could not finish before their deadline.
        public var late = 0
        /// Attempts cancelled, waiting or running.
        public var cancelled = 0
    }

    /// How many cancellations of requests not (yet) here are remembered, so that work arriving
    /// after its cancellation is not run.
    static let rememberedCancellations = 1024

    /// How many handlers may run at once.
    public let concurrency: Int
    /// The operations served, sorted.
    public let operations: [String]
    public let scheduling: Scheduling

    private let handlers: [String: any OperationHandler]
    private let logger: Logger
    private let state: Mutex<State>

    private typealias Waiter = CheckedContinuation<Start, Never>

    /// How a waiting attempt leaves the queue.
    private enum Start {
        case run
        case late
        case cancelled
        /// The caller's task was cancelled (the worker is stopping).
        case stopped
    }

    private struct Attempt {
        var requestID: String
        var waiter: Waiter?
        /// The queue's decision, when it came before the waiter was registered.
        var early: Start?
        /// Cancels the task the handler runs in, once there is one.
        var cancelRun: (@Sendable () -> Void)?
        var progress: WorkProgress?
        var cancelled = false
    }

    private struct State {
        var queue: WorkQueue
        var attempts: [UInt64: Attempt] = [:]
        var tickets: [String: Set<UInt64>] = [:]
        var nextTicket: UInt64 = 0
        var inFlight = 0
        var running = 0
        var counters = Counters()
        var drainers: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextDrainer: UInt64 = 0
        var cancelledDrainers: Set<UInt64> = []
        /// Requests cancelled before they arrived here (the work message was still on its
        /// way), the latest ``WorkerPool/rememberedCancellations``, oldest first in `order`.
        var cancelledAhead: Set<String> = []
        var cancelledAheadOrder: [String] = []

        mutating func rememberCancelled(_ requestID: String) {
            guard cancelledAhead.insert(requestID).inserted else { return }
            cancelledAheadOrder.append(requestID)
            if cancelledAheadOrder.count > WorkerPool.rememberedCancellations {
                cancelledAhead.remove(cancelledAheadOrder.removeFirst())
            }
        }

        mutating func forget(_ ticket: UInt64) {
            guard let attempt = attempts.removeValue(forKey: ticket) else { return }
            tickets[attempt.requestID]?.remove(ticket)
            if tickets[attempt.requestID]?.isEmpty == true { tickets[attempt.requestID] = nil }
        }
    }

    /// - Parameters:
    ///   - handlers: one per operation; two handlers for one operation are a programming error.
    ///   - concurrency: how many handlers may run at once, at least 1.
    ///   - scheduling: how waiting requests are ordered, and whether late ones are turned away.
    ///   - logger: where handler failures are logged (at `info`, with request metadata).
    public init(
        handlers: [any OperationHandler],
        concurrency: Int,
        scheduling: Scheduling = .deadlineAware,
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
        self.scheduling = scheduling
        self.logger = logger
        state = Mutex(State(queue: WorkQueue(slots: concurrency, scheduling: scheduling)))
    }

    /// Requests accepted and not yet answered, running or waiting for a slot.
    public var inFlight: Int { state.withLock { $0.inFlight } }

    /// Requests whose handler is running now (at most ``concurrency``).
    public var running: Int { state.withLock { $0.running } }

    /// Requests waiting for a free slot.
    public var waiting: Int { state.withLock { $0.queue.waitingCount } }

    /// What the pool has done so far.
    public var counters: Counters { state.withLock { $0.counters } }

    /// What an operation has taken recently (the median of its last runs), once it has run a
    /// few times.
    public func estimatedDuration(of operation: String) -> Duration? {
        state.withLock { $0.queue.estimate(for: operation) }.map { .milliseconds($0) }
    }

    /// The handler serving an operation, if any.
    public func handler(for operation: String) -> (any OperationHandler)? {
        handlers[operation]
    }

    /// Runs one request and says what to reply; a cancelled request gets 410 `cancelled`.
    /// See ``attempt(_:progress:)``.
    public func perform(_ request: HandlerRequest) async -> HandlerResponse {
        switch await attempt(request) {
        case .answered(let response): response
        case .cancelled: Self.errorResult(HandlerError(.cancelled, "the request was cancelled"))
        }
    }

    /// Runs one attempt through its handler once a slot is free, with ``WorkProgress/current``
    /// bound to a reporter that hands each update to `progress`.
    ///
    /// If the calling task is cancelled, the handler's task is cancelled too, and a request
    /// still waiting for a slot is answered 503 `unavailable` without running. After
    /// ``cancel(requestID:)`` the outcome is ``Outcome/cancelled`` whatever the handler returns.
    public func attempt(
        _ request: HandlerRequest,
        progress: @escaping @Sendable (ProgressUpdate) -> Void = { _ in }
    ) async -> Outcome {
        guard let handler = handlers[request.operation] else { return .answered(Self.unknownOperation(request)) }
        guard let (ticket, admission) = admit(request) else { return .cancelled }
        defer { finish(ticket) }
        return await proceed(handler, request, ticket: ticket, admission: admission, inline: false, progress: progress)
    }

    /// Starts one attempt in a task of its own and hands its outcome to `completion`: the same
    /// as ``attempt(_:progress:)``, without a second task for the handler. The handler runs in
    /// the attempt's task, which ``cancel(requestID:)`` cancels. For callers that do not wait
    /// (the bridge's in-memory dispatch).
    ///
    /// A handler that ``OperationHandler/startsImmediately`` runs on the calling thread until it
    /// first suspends (`Task.immediate`); one that does not suspend has called `completion`
    /// before this returns.
    package func start(
        _ request: HandlerRequest,
        progress: @escaping @Sendable (ProgressUpdate) -> Void = { _ in },
        completion: @escaping @Sendable (Outcome) -> Void
    ) {
        guard let handler = handlers[request.operation] else { return completion(.answered(Self.unknownOperation(request))) }
        guard let (ticket, admission) = admit(request) else { return completion(.cancelled) }
        let body: @Sendable () async -> Void = {
            let outcome = await self.proceed(handler, request, ticket: ticket, admission: admission, inline: true, progress: progress)
            self.finish(ticket)
            completion(outcome)
        }
        let task = handler.startsImmediately ? Task.immediate(operation: body) : Task(operation: body)
        let cancelled = state.withLock { state in
            state.attempts[ticket]?.cancelRun = { task.cancel() }
            return state.attempts[ticket]?.cancelled == true
        }
        if cancelled { task.cancel() }
    }

    private static func unknownOperation(_ request: HandlerRequest) -> HandlerResponse {
        errorResult(HandlerError(.unknownOperation, "this worker has no handler for operation \(request.operation)"))
    }

    /// Takes an attempt in: a ticket, and the queue's first word on it; nil for a request
    /// cancelled before it arrived.
    private func admit(_ request: HandlerRequest) -> (UInt64, WorkQueue.Admission)? {
        state.withLock { state -> (UInt64, WorkQueue.Admission)? in
            if state.cancelledAhead.contains(request.requestID) {
                state.counters.cancelled += 1
                return nil
            }
            state.inFlight += 1
            let ticket = state.nextTicket
            state.nextTicket += 1
            state.attempts[ticket] = Attempt(requestID: request.requestID)
            state.tickets[request.requestID, default: []].insert(ticket)
            return (ticket, state.queue.arrive(ticket: ticket, operation: request.operation, deadline: request.deadline, now: unixMillis()))
        }
    }

    /// An admitted attempt from its queue decision on: waits for a slot if it must, then runs
    /// the handler (`inline`: in the calling task) or answers without running it.
    private func proceed(
        _ handler: any OperationHandler,
        _ request: HandlerRequest,
        ticket: UInt64,
        admission: WorkQueue.Admission,
        inline: Bool,
        progress: @escaping @Sendable (ProgressUpdate) -> Void
    ) async -> Outcome {
        let start: Start
        switch admission {
        case .start: start = .run
        case .late: start = .late
        case .wait: start = await waitForSlot(ticket)
        }
        switch start {
        case .run:
            return await run(handler, request, ticket: ticket, inline: inline, progress: progress)
        case .late:
            let cancelled = state.withLock { state in
                let cancelled = state.attempts[ticket]?.cancelled == true
                if !cancelled { state.counters.late += 1 }
                return cancelled
            }
            if cancelled { return .cancelled }
            logger.debug("attempt cannot finish before its deadline: answered 504", metadata: request.logMetadata)
            return .answered(Self.errorResult(HandlerError(.timeout, "the worker could not have finished this request before its deadline")))
        case .cancelled:
            return .cancelled
        case .stopped:
            return .answered(Self.errorResult(HandlerError(.unavailable, "the worker stopped before the request could run")))
        }
    }

    /// Cancels every attempt of a request this pool holds: a running handler's task is
    /// cancelled (its answer, whenever it comes, is dropped), a waiting one leaves the queue.
    /// An id the pool does not hold is remembered (the latest 1,024): an attempt of it that
    /// arrives later is not run. Every worker hears every cancellation.
    public func cancel(requestID: String) {
        let (waiters, runs) = state.withLock { state -> ([Waiter], [@Sendable () -> Void]) in
            var waiters: [Waiter] = [], runs: [@Sendable () -> Void] = []
            guard let tickets = state.tickets[requestID] else {
                state.rememberCancelled(requestID)
                return ([], [])
            }
            for ticket in tickets {
                guard var attempt = state.attempts[ticket], !attempt.cancelled else { continue }
                attempt.cancelled = true
                state.counters.cancelled += 1
                attempt.progress?.close()
                if state.queue.remove(ticket: ticket), let waiter = attempt.waiter {
                    attempt.waiter = nil
                    waiters.append(waiter)
                }
                if let cancelRun = attempt.cancelRun { runs.append(cancelRun) }
                state.attempts[ticket] = attempt
            }
            return (waiters, runs)
        }
        for waiter in waiters { waiter.resume(returning: .cancelled) }
        for cancelRun in runs { cancelRun() }
    }

    /// Returns once nothing is in flight: immediately when idle, otherwise when the last request
    /// accepted has its result. Work that arrives meanwhile is waited for too, so stop taking
    /// work first. Returns early if the calling task is cancelled.
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

    // MARK: Waiting and running

    /// Suspends until the queue gives the attempt a slot, turns it away, or it is cancelled.
    private func waitForSlot(_ ticket: UInt64) async -> Start {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: Waiter) in
                let early: Start? = state.withLock { state in
                    // A decision already made holds a slot (or turned the attempt away): honour it.
                    if let early = state.attempts[ticket]?.early { return early }
                    guard state.attempts[ticket]?.cancelled == false else { return .cancelled }
                    if Task.isCancelled {
                        _ = state.queue.remove(ticket: ticket)
                        return .stopped
                    }
                    state.attempts[ticket]?.waiter = waiter
                    return nil
                }
                if let early { waiter.resume(returning: early) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let waiter = state.attempts[ticket]?.waiter, state.queue.remove(ticket: ticket) else { return nil }
                state.attempts[ticket]?.waiter = nil
                return waiter
            }
            waiter?.resume(returning: .stopped)
        }
    }

    /// Runs the handler in a task that ``cancel(requestID:)`` can cancel: the calling task when
    /// `inline` (``start(_:progress:completion:)`` made it for this attempt), a task of its
    /// own otherwise.
    private func run(
        _ handler: any OperationHandler,
        _ request: HandlerRequest,
        ticket: UInt64,
        inline: Bool,
        progress: @escaping @Sendable (ProgressUpdate) -> Void
    ) async -> Outcome {
        let reporter = WorkProgress(requestID: request.requestID, sink: progress)
        let started = ContinuousClock.now
        let answer: @Sendable () async -> HandlerResponse = {
            await WorkProgress.$current.withValue(reporter) { await self.answer(handler, request) }
        }
        enum Runner {
            case cancelled
            case inline
            case task(Task<HandlerResponse, Never>)
        }
        let runner = state.withLock { state -> Runner in
            guard state.attempts[ticket]?.cancelled == false else { return .cancelled }
            state.attempts[ticket]?.progress = reporter
            state.running += 1
            guard !inline else { return .inline }
            let task = Task { await answer() }
            state.attempts[ticket]?.cancelRun = { task.cancel() }
            return .task(task)
        }
        let response: HandlerResponse
        switch runner {
        case .cancelled:
            // Cancelled before it started: the slot it was given goes on.
            handOn(operation: request.operation, milliseconds: nil)
            return .cancelled
        case .inline:
            response = await answer()
        case .task(let task):
            response = await withTaskCancellationHandler {
                await task.value
            } onCancel: {
                task.cancel()
            }
        }
        reporter.close()
        let elapsed = ContinuousClock.now - started
        let cancelled = state.withLock { state in
            state.running -= 1
            let cancelled = state.attempts[ticket]?.cancelled ?? false
            if !cancelled { state.counters.ran += 1 }
            return cancelled
        }
        // A cancelled run's time says nothing about the operation.
        handOn(operation: request.operation, milliseconds: cancelled || Task.isCancelled ? nil : elapsed.milliseconds)
        return cancelled ? .cancelled : .answered(response)
    }

    /// Gives the freed slot to the next waiting attempt and turns away the late ones.
    private func handOn(operation: String, milliseconds: Int64?) {
        let wakeups = state.withLock { state -> [(Waiter, Start)] in
            state.queue.finished(operation: operation, milliseconds: milliseconds, now: unixMillis()).compactMap { decision in
                let (ticket, start): (UInt64, Start) =
                    switch decision {
                    case .start(let ticket): (ticket, .run)
                    case .late(let ticket): (ticket, .late)
                    }
                guard let waiter = state.attempts[ticket]?.waiter else {
                    state.attempts[ticket]?.early = start
                    return nil
                }
                state.attempts[ticket]?.waiter = nil
                return (waiter, start)
            }
        }
        for (waiter, start) in wakeups { waiter.resume(returning: start) }
    }

    private func answer(_ handler: any OperationHandler, _ request: HandlerRequest) async -> HandlerResponse {
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

    private func finish(_ ticket: UInt64) {
        let drainers = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.forget(ticket)
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
