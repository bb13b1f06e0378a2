import CourierCore
import Foundation
import Synchronization
import Testing

@testable import CourierWorkers

/// The pool's queue, deadlines, cancellation and progress, with handlers the tests control.
@Suite(.timeLimit(.minutes(1)))
struct WorkerPoolSchedulingTests {
    /// Earliest deadline first by default; first come, first served when asked.
    @Test(arguments: [
        (WorkerPool.Scheduling.deadlineAware, ["first", "a", "b", "c"]),
        (WorkerPool.Scheduling.arrivalOrder, ["first", "c", "a", "b"]),
    ])
    func waitingWorkRunsInTheSchedulingsOrder(_ scheduling: WorkerPool.Scheduling, _ expected: [String]) async throws {
        let recorder = Recorder()
        let pool = WorkerPool(handlers: [RecordingBlocker(recorder: recorder)], concurrency: 1, scheduling: scheduling)
        let now = unixMillis()
        let first = Task { await pool.perform(request("block", "first", deadline: now + 60_000)) }
        await recorder.waitUntil { $0.entered == 1 }
        var queued: [Task<HandlerResponse, Never>] = []
        for (name, seconds) in [("c", 50), ("a", 20), ("b", 30)] as [(String, Int64)] {
            queued.append(Task { await pool.perform(request("block", name, deadline: now + seconds * 1000)) })
            let count = queued.count
            await until { pool.waiting == count }
        }
        await recorder.release(4)
        for task in [first] + queued { #expect(await task.value.status == 200) }
        #expect(await recorder.started == expected)
    }

    @Test func workThatCannotFinishBeforeItsDeadlineIsAnswered504WithoutRunning() async throws {
        let runs = RunCounter()
        let pool = WorkerPool(handlers: [TimedHandler(operation: "slow", duration: .milliseconds(150), runs: runs)], concurrency: 2)
        for _ in 0..<3 { #expect(await pool.perform(request("slow")).status == 200) }
        let estimate = try #require(pool.estimatedDuration(of: "slow"))
        #expect(estimate >= .milliseconds(150))
        // 50 ms left: less than the operation takes.
        let late = await pool.perform(request("slow", deadline: unixMillis() + 50))
        #expect(late.status == 504)
        #expect(try decodeErrorBody(late).error.code == "timeout")
        #expect(runs.count == 3)
        #expect(pool.counters == WorkerPool.Counters(ran: 3, late: 1, cancelled: 0))
        // A passed deadline is late even before there is an estimate.
        let fresh = WorkerPool(handlers: BuiltinHandlers.all, concurrency: 1)
        #expect(await fresh.perform(request("echo", deadline: unixMillis() - 1)).status == 504)
        #expect(fresh.counters.late == 1)
    }

    @Test func waitingWorkWhoseTimeRanOutIsAnswered504WhenASlotFrees() async throws {
        let recorder = Recorder()
        let pool = WorkerPool(handlers: [RecordingBlocker(recorder: recorder)], concurrency: 1)
        let first = Task { await pool.perform(request("block", "first")) }
        await recorder.waitUntil { $0.entered == 1 }
        // The deadline passes while it waits (no estimate yet: only the deadline counts).
        let short = Task { await pool.perform(request("block", "short", deadline: unixMillis() + 100)) }
        let long = Task { await pool.perform(request("block", "long")) }
        await until { pool.waiting == 2 }
        // Time itself is the condition here: let the short deadline pass.
        try await Task.sleep(for: .milliseconds(150))
        await recorder.release(2)
        #expect(await first.value.status == 200)
        #expect(await short.value.status == 504)
        #expect(await long.value.status == 200)
        #expect(await recorder.started == ["first", "long"])
        #expect(pool.counters.late == 1)
    }

    @Test func cancellingARunningRequestCancelsItsHandlerTask() async throws {
        let recorder = Recorder()
        let pool = WorkerPool(handlers: [CancellableHandler(recorder: recorder)], concurrency: 2)
        let attempt = Task { await pool.attempt(request("wait", requestID: "r-cancel")) }
        await recorder.waitUntil { $0.events.contains("started") }
        pool.cancel(requestID: "r-other")  // not here: ignored
        pool.cancel(requestID: "r-cancel")
        #expect(await attempt.value == .cancelled)
        #expect(await recorder.snapshot.events == ["started", "cancelled"])
        #expect(pool.counters == WorkerPool.Counters(ran: 0, late: 0, cancelled: 1))
        #expect(pool.inFlight == 0)
        #expect(pool.running == 0)
        // A cancelled run does not count towards the estimate.
        #expect(pool.estimatedDuration(of: "wait") == nil)
    }

    /// `start` runs the handler in the attempt's own task, not a second one: cancelling the
    /// request cancels that task while it runs, or takes it out of the queue while it waits;
    /// an attempt left alone answers.
    @Test func aStartedAttemptAnswersAndIsCancelledLikeAnAwaitedOne() async throws {
        let recorder = Recorder()
        let pool = WorkerPool(handlers: [CancellableHandler(recorder: recorder), EchoHandler()], concurrency: 1)
        let (outcomes, delivered) = AsyncStream.makeStream(of: WorkerPool.Outcome.self)
        var next = outcomes.makeAsyncIterator()
        pool.start(request("wait", requestID: "r-running")) { delivered.yield($0) }
        await recorder.waitUntil { $0.events.contains("started") }
        pool.start(request("wait", requestID: "r-waiting")) { delivered.yield($0) }
        await until { pool.waiting == 1 }
        pool.cancel(requestID: "r-waiting")
        #expect(await next.next() == .cancelled)
        pool.cancel(requestID: "r-running")
        #expect(await next.next() == .cancelled)
        #expect(await recorder.snapshot.events == ["started", "cancelled"])
        #expect(pool.counters == WorkerPool.Counters(ran: 0, late: 0, cancelled: 2))
        #expect(pool.inFlight == 0)
        #expect(pool.running == 0)

        pool.start(request("echo", "hello", requestID: "r-echo")) { delivered.yield($0) }
        guard case .answered(let response) = await next.next() else {
            Issue.record("the echo was not answered")
            return
        }
        #expect(response.status == 200)
        #expect(response.payload == Data("hello".utf8))
        #expect(pool.counters.ran == 1)
    }

    /// A handler that starts immediately runs on the thread that starts it until it first
    /// suspends: echo, which never does, has answered before `start` returns; one that
    /// suspends has done what comes before its first `await`, answers later, and is cancelled
    /// like any other.
    @Test func anImmediateHandlerRunsOnTheStartingThreadUntilItSuspends() async throws {
        let pool = WorkerPool(handlers: [EchoHandler()], concurrency: 1)
        #expect(EchoHandler().startsImmediately)
        let echoed = Shared<WorkerPool.Outcome?>(nil)
        pool.start(request("echo", "hello", requestID: "r-echo")) { outcome in echoed.update { $0 = outcome } }
        guard case .answered(let response) = echoed.value else {
            Issue.record("echo had not answered when start returned")
            return
        }
        #expect(response.payload == Data("hello".utf8))

        let handler = MarkThenWaitHandler()
        let waiting = WorkerPool(handlers: [handler], concurrency: 1)
        let (outcomes, delivered) = AsyncStream.makeStream(of: WorkerPool.Outcome.self)
        var next = outcomes.makeAsyncIterator()
        waiting.start(request("mark", requestID: "r-mark")) { delivered.yield($0) }
        #expect(handler.marked.value == ["r-mark"])
        #expect(waiting.running == 1)
        waiting.cancel(requestID: "r-mark")
        #expect(await next.next() == .cancelled)
        #expect(waiting.inFlight == 0)
    }

    @Test func aCancelledRequestsLateAnswerIsDropped() async throws {
        let recorder = Recorder()
        // The blocking handler ignores cancellation and answers 200 once released.
        let pool = WorkerPool(handlers: [BlockingHandler(recorder: recorder)], concurrency: 1)
        let attempt = Task { await pool.attempt(request("block", requestID: "r-1")) }
        await recorder.waitUntil { $0.entered == 1 }
        pool.cancel(requestID: "r-1")
        await recorder.release()
        #expect(await attempt.value == .cancelled)
        // perform(_:) says so with 410.
        let second = Task { await pool.perform(request("block", requestID: "r-2")) }
        await recorder.waitUntil { $0.entered == 2 }
        pool.cancel(requestID: "r-2")
        await recorder.release()
        let result = await second.value
        #expect(result.status == 410)
        #expect(try decodeErrorBody(result).error.code == "cancelled")
    }

    @Test func cancellingAWaitingRequestTakesItOutOfTheQueue() async throws {
        let recorder = Recorder()
        let pool = WorkerPool(handlers: [BlockingHandler(recorder: recorder)], concurrency: 1)
        let first = Task { await pool.attempt(request("block", requestID: "r-1")) }
        await recorder.waitUntil { $0.entered == 1 }
        let waiting = Task { await pool.attempt(request("block", requestID: "r-2")) }
        let next = Task { await pool.attempt(request("block", requestID: "r-3")) }
        await until { pool.waiting == 2 }
        pool.cancel(requestID: "r-2")
        #expect(await waiting.value == .cancelled)
        #expect(pool.waiting == 1)
        await recorder.release(2)
        #expect(await first.value != .cancelled)
        #expect(await next.value != .cancelled)
        // r-2 never ran.
        #expect(await recorder.snapshot.entered == 2)
        #expect(pool.counters == WorkerPool.Counters(ran: 2, late: 0, cancelled: 1))
    }

    @Test func workCancelledBeforeItArrivesIsNotRun() async throws {
        let recorder = Recorder()
        let pool = WorkerPool(handlers: [CancellableHandler(recorder: recorder)], concurrency: 1)
        pool.cancel(requestID: "early")
        #expect(await pool.attempt(request("wait", requestID: "early")) == .cancelled)
        #expect(await recorder.snapshot.events.isEmpty)
        #expect(pool.counters.cancelled == 1)
        // Only the latest are remembered.
        for index in 0..<WorkerPool.rememberedCancellations { pool.cancel(requestID: "other-\(index)") }
        let forgotten = Task { await pool.attempt(request("wait", requestID: "early")) }
        await recorder.waitUntil { $0.events == ["started"] }
        pool.cancel(requestID: "early")
        #expect(await forgotten.value == .cancelled)
    }

    @Test func progressReachesTheCallerInOrderAndNothingAfterTheAnswer() async throws {
        let updates = Shared<[ProgressUpdate]>([])
        let leaked = Shared<WorkProgress?>(nil)
        let pool = WorkerPool(handlers: [ReportingHandler(leaked: leaked)], concurrency: 1)
        let outcome = await pool.attempt(request("report", requestID: "r-p")) { update in
            updates.update { $0.append(update) }
        }
        #expect(outcome == .answered(HandlerResponse(payload: Data("done".utf8))))
        let expected: [ProgressUpdate] = [
            .progress(percent: 0, payload: Data("starting".utf8), contentType: "text/plain; charset=utf-8"),
            .heartbeat,
            .progress(percent: 100, payload: Data(#"{"step":2}"#.utf8), contentType: "application/json"),
            .progress(percent: nil),
        ]
        #expect(updates.value == expected)
        // A reporter kept past the handler's return sends nothing.
        let reporter = try #require(leaked.value)
        #expect(reporter.requestID == "r-p")
        reporter.report(percent: 50, message: "too late")
        #expect(updates.value.count == expected.count)
        // Outside a pool there is no reporter.
        #expect(WorkProgress.current == nil)
    }
}

extension Recorder {
    /// The events other than `finished`: what the handlers recorded as they started.
    var started: [String] { snapshot.events.filter { $0 != "finished" } }
}

/// Records its payload when it starts, then waits to be released (ignoring cancellation).
struct RecordingBlocker: OperationHandler {
    let operation = "block"
    let recorder: Recorder

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        await recorder.record(String(decoding: request.payload, as: UTF8.self))
        await recorder.enter()
        await recorder.awaitRelease()
        await recorder.leave()
        return HandlerResponse(payload: request.payload)
    }
}

/// Takes a fixed time (a cancellable sleep) and counts its runs.
struct TimedHandler: OperationHandler {
    let operation: String
    let duration: Duration
    let runs: RunCounter

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        runs.increment()
        try await Task.sleep(for: duration)
        return HandlerResponse(payload: request.payload)
    }
}

/// A value shared between a test and its handlers.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value { mutex.withLock { $0 } }
    func update(_ change: (inout Value) -> Void) { mutex.withLock { change(&$0) } }
}

final class RunCounter: Sendable {
    private let value = Atomic<Int>(0)
    var count: Int { value.load(ordering: .relaxed) }
    func increment() { value.add(1, ordering: .relaxed) }
}

/// Waits a minute in a cancellable sleep; records `started`, and `cancelled` when it is.
struct CancellableHandler: OperationHandler {
    let operation = "wait"
    let recorder: Recorder

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        await recorder.record("started")
        do {
            try await Task.sleep(for: .seconds(60))
        } catch is CancellationError {
            await recorder.record("cancelled")
            throw CancellationError()
        }
        return HandlerResponse(payload: Data("slept".utf8))
    }
}

/// Starts immediately: notes the request before anything else, then waits to be cancelled.
struct MarkThenWaitHandler: OperationHandler {
    let operation = "mark"
    let startsImmediately = true
    let marked = Shared<[String]>([])

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        marked.update { $0.append(request.requestID) }
        try await Task.sleep(for: .seconds(60))
        return HandlerResponse(payload: Data("woke".utf8))
    }
}

/// Reports progress every way there is, then answers `done`; hands its reporter out.
struct ReportingHandler: OperationHandler {
    let operation = "report"
    let leaked: Shared<WorkProgress?>

    struct Step: Encodable {
        var step: Int
    }

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        let progress = try #require(WorkProgress.current)
        progress.report(percent: 0, message: "starting")
        progress.heartbeat()
        // Tasks the handler starts see the same reporter; percentages are clamped.
        try await Task { try WorkProgress.current?.report(percent: 140, json: Step(step: 2)) }.value
        progress.report(percent: nil)
        leaked.update { $0 = progress }
        return HandlerResponse(payload: Data("done".utf8))
    }
}
