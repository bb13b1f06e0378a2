import CourierCore
import CourierWorkers
import Foundation
import Synchronization

/// Holds every request of `test.gated` until the test opens it: a request that stays pending
/// as long as the test wants, without sleeping.
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var entered = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Handlers that have reached the gate.
    var entered: Int { state.withLock { $0.entered } }

    /// Returns once the gate is open.
    func pass() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let open = state.withLock { state in
                state.entered += 1
                if state.isOpen { return true }
                state.waiters.append(continuation)
                return false
            }
            if open { continuation.resume() }
        }
    }

    /// Lets every waiting and future handler through.
    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// `test.gated`: echoes the payload once the gate opens.
struct GatedHandler: OperationHandler {
    let operation = "test.gated"
    let gate: Gate

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        await gate.pass()
        return HandlerResponse(payload: request.payload, contentType: request.contentType)
    }
}

/// `test.flaky`: fails the first request with each payload with 500 (a dead letter), then
/// answers `recovered` (so a replay succeeds).
final class FlakyHandler: OperationHandler {
    let operation = "test.flaky"
    private let seen = Mutex<Set<Data>>([])

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        let first = seen.withLock { $0.insert(request.payload).inserted }
        guard !first else { throw HandlerError.workerError("the first attempt always fails") }
        return HandlerResponse(payload: Data("recovered".utf8), contentType: "text/plain")
    }
}

/// `test.long`: reports 30 % progress, then sleeps until cancelled, and records that it saw
/// the cancellation.
final class LongHandler: OperationHandler {
    let operation = "test.long"
    private let cancelledCount = Mutex(0)

    /// Handlers that stopped because their request was cancelled.
    var cancelled: Int { cancelledCount.withLock { $0 } }

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        WorkProgress.current?.report(percent: 30, message: "a third")
        do {
            try await Task.sleep(for: .seconds(60))
        } catch is CancellationError {
            cancelledCount.withLock { $0 += 1 }
            throw CancellationError()
        }
        return HandlerResponse(payload: Data("finished".utf8))
    }
}
