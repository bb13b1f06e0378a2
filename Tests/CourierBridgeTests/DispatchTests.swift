import CourierWorkers
import Foundation
import Synchronization
import Testing

@testable import CourierBridge

/// Direct dispatch's choice of worker and its in-flight counts, as plain values.
@Suite struct DispatchPickerTests {
    typealias Candidate = DispatchPicker.Candidate

    @Test func theWorkerWithTheMostFreeCapacityIsChosen() {
        let candidates = [
            Candidate(id: "a", concurrency: 8, inFlight: 7),
            Candidate(id: "b", concurrency: 2, inFlight: 0),
            Candidate(id: "c", concurrency: 4, inFlight: 3),
        ]
        #expect(DispatchPicker.pick(candidates) == "b")
        #expect(DispatchPicker.pick([]) == nil)
    }

    @Test func overloadedWorkersStillGetWorkTheLeastOverloadedFirst() {
        let candidates = [Candidate(id: "a", concurrency: 2, inFlight: 5), Candidate(id: "b", concurrency: 2, inFlight: 3)]
        #expect(DispatchPicker.pick(candidates) == "b")
    }

    @Test func tiesGoToFewerInFlightThenTheLowerID() {
        #expect(DispatchPicker.pick([Candidate(id: "a", concurrency: 4, inFlight: 2), Candidate(id: "b", concurrency: 3, inFlight: 1)]) == "b")
        #expect(DispatchPicker.pick([Candidate(id: "b", concurrency: 2, inFlight: 1), Candidate(id: "a", concurrency: 2, inFlight: 1)]) == "a")
    }

    @Test func aRetryPrefersAnotherWorker() {
        let candidates = [Candidate(id: "a", concurrency: 8, inFlight: 0), Candidate(id: "b", concurrency: 1, inFlight: 1)]
        #expect(DispatchPicker.pick(candidates, avoiding: "a") == "b")
        // Unless there is no other.
        #expect(DispatchPicker.pick([candidates[0]], avoiding: "a") == "a")
    }

    @Test func assignmentsCountAttemptsInFlightPerWorker() {
        var assignments = DispatchAssignments()
        assignments.assign("r1", to: "a", deadline: 1_000)
        assignments.assign("r2", to: "a", deadline: 1_000)
        assignments.assign("r3", to: "b", deadline: 1_000)
        #expect(assignments.inFlight("a") == 2)
        #expect(assignments.inFlight("b") == 1)
        assignments.end("r1")
        assignments.end("r1")  // once only
        #expect(assignments.inFlight("a") == 1)
        // The ended attempt's worker is remembered for the retry, which moves the count.
        #expect(assignments.worker(of: "r1") == "a")
        assignments.assign("r1", to: "b", deadline: 1_000)
        #expect(assignments.inFlight("b") == 2)
        // A retry while the previous attempt still counts ends that one.
        assignments.assign("r2", to: "b", deadline: 1_000)
        #expect(assignments.inFlight("a") == 0)
        #expect(assignments.inFlight("b") == 3)
        #expect(assignments.count == 3)
    }

    @Test func pruningForgetsRequestsPastTheirDeadline() {
        var assignments = DispatchAssignments()
        assignments.assign("old", to: "a", deadline: 1_000)
        assignments.assign("new", to: "a", deadline: 5_000)
        assignments.prune(now: 2_000)
        #expect(assignments.count == 1)
        #expect(assignments.inFlight("a") == 1)
        #expect(assignments.worker(of: "old") == nil)
    }
}

/// `courier serve`'s dispatcher: results, progress and cancellation in process.
@Suite(.timeLimit(.minutes(1)))
struct InMemoryDispatcherTests {
    @Test func progressGoesToTheProgressSinkAndTheResultToTheResultSink() async throws {
        let events = Events()
        let dispatcher = InMemoryDispatcher(
            pool: WorkerPool(handlers: [Reporter()], concurrency: 1),
            sink: { id, result in events.add("result \(id) \(result.status) \(String(decoding: result.payload, as: UTF8.self))") },
            progress: { id, status, percent, payload, contentType in
                events.add("progress \(id) \(status) \(percent.map(String.init) ?? "-") \(String(decoding: payload, as: UTF8.self)) \(contentType ?? "-")")
            }
        )
        dispatcher.dispatch(Self.request("report", id: "r1")) { outcome in
            if case .sent = outcome { events.add("sent") }
        }
        try await events.wait(for: 4)
        // The handler runs in a task of its own: it may report before the send completes.
        #expect(events.all.filter { $0 != "sent" } == [
            "progress r1 102 50 half text/plain; charset=utf-8",
            "progress r1 202 -  -",
            "result r1 200 done",
        ])
        #expect(events.all.contains("sent"))
    }

    @Test func cancellingStopsTheHandlerAndNoResultIsReported() async throws {
        let events = Events()
        let dispatcher = InMemoryDispatcher(
            pool: WorkerPool(handlers: [Sleeper(events: events)], concurrency: 1),
            sink: { id, _ in events.add("result \(id)") }
        )
        dispatcher.dispatch(Self.request("sleep", id: "r1")) { _ in }
        try await events.wait(for: 1)
        dispatcher.cancel(requestID: "r1")
        dispatcher.attemptEnded(requestID: "r1")
        try await events.wait(for: 2)
        // A later request still runs, and its result is the next event.
        dispatcher.dispatch(Self.request("sleep", id: "r2", payload: "quick")) { _ in }
        try await events.wait(for: 4)
        #expect(events.all == ["started r1", "cancelled r1", "started r2", "result r2"])
    }

    static func request(_ operation: String, id: String, payload: String = "") -> HandlerRequest {
        HandlerRequest(
            requestID: id, device: "d1", operation: operation,
            deadline: Int64(Date().timeIntervalSince1970 * 1000) + 60_000, payload: Data(payload.utf8))
    }

    /// Reports half way and a heartbeat, then answers `done`.
    struct Reporter: OperationHandler {
        let operation = "report"

        func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
            WorkProgress.current?.report(percent: 50, message: "half")
            WorkProgress.current?.heartbeat()
            return HandlerResponse(payload: Data("done".utf8))
        }
    }

    /// Sleeps a minute unless its payload is `quick`; says when it starts and is cancelled.
    struct Sleeper: OperationHandler {
        let operation = "sleep"
        let events: Events

        func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
            events.add("started \(request.requestID)")
            guard request.payload != Data("quick".utf8) else { return HandlerResponse(payload: Data()) }
            do {
                try await Task.sleep(for: .seconds(60))
            } catch {
                events.add("cancelled \(request.requestID)")
                throw error
            }
            return HandlerResponse(payload: Data())
        }
    }

    /// Events in order, with a wait for their count.
    final class Events: Sendable {
        private let state = Mutex<(events: [String], waiters: [(Int, CheckedContinuation<Void, Never>)])>(([], []))

        var all: [String] { state.withLock { $0.events } }

        func add(_ event: String) {
            let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.events.append(event)
                let count = state.events.count
                let ready = state.waiters.filter { $0.0 <= count }.map(\.1)
                state.waiters.removeAll { $0.0 <= count }
                return ready
            }
            for waiter in ready { waiter.resume() }
        }

        /// Returns once there are at least `count` events.
        func wait(for count: Int) async throws {
            await withCheckedContinuation { continuation in
                let done = state.withLock { state in
                    if state.events.count >= count { return true }
                    state.waiters.append((count, continuation))
                    return false
                }
                if done { continuation.resume() }
            }
        }
    }
}
