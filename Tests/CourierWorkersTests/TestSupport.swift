import CourierCore
import CourierWorkers
import Foundation

/// A request for tests, with a deadline a minute away unless given.
func request(
    _ operation: String,
    _ payload: String = "",
    contentType: String? = nil,
    requestID: String = "r1",
    deadline: Int64? = nil
) -> HandlerRequest {
    HandlerRequest(
        requestID: requestID,
        device: "d1",
        operation: operation,
        deadline: deadline ?? unixMillis() + 60_000,
        payload: Data(payload.utf8),
        contentType: contentType
    )
}

/// A JSON request for tests.
func jsonRequest(_ operation: String, _ json: String) -> HandlerRequest {
    request(operation, json, contentType: "application/json")
}

/// Suspends until a condition on shared state holds, giving other tasks the thread meanwhile.
/// Used only for counters the pool keeps internally; everything the tests control is awaited
/// through `Recorder`. Returns early when the task is cancelled (a `withTimeout` ran out).
func until(_ condition: () -> Bool) async {
    while !condition(), !Task.isCancelled { await Task.yield() }
}

/// Records what blocking handlers do and lets the test decide when each may finish. Every wait is
/// a continuation resumed when the state changes: no polling, no sleeping.
actor Recorder {
    struct Snapshot: Sendable {
        var current = 0
        var maxConcurrent = 0
        var entered = 0
        var finished = 0
        var events: [String] = []
    }

    private(set) var snapshot = Snapshot()
    private var tickets = 0
    private var blocked: [CheckedContinuation<Void, Never>] = []
    private var conditions: [(condition: @Sendable (Snapshot) -> Bool, continuation: CheckedContinuation<Void, Never>)] = []

    func enter() {
        snapshot.current += 1
        snapshot.entered += 1
        snapshot.maxConcurrent = max(snapshot.maxConcurrent, snapshot.current)
        changed()
    }

    func leave() {
        snapshot.current -= 1
        snapshot.finished += 1
        snapshot.events.append("finished")
        changed()
    }

    func record(_ event: String) {
        snapshot.events.append(event)
        changed()
    }

    /// Suspends a handler until the test releases it.
    func awaitRelease() async {
        if tickets > 0 {
            tickets -= 1
            return
        }
        await withCheckedContinuation { blocked.append($0) }
    }

    /// Lets `count` blocked (or future) handlers go, oldest first.
    func release(_ count: Int = 1) {
        for _ in 0..<count {
            if blocked.isEmpty {
                tickets += 1
            } else {
                blocked.removeFirst().resume()
            }
        }
    }

    /// Returns once the condition holds.
    func waitUntil(_ condition: @escaping @Sendable (Snapshot) -> Bool) async {
        if condition(snapshot) { return }
        await withCheckedContinuation { conditions.append((condition, $0)) }
    }

    private func changed() {
        var still: [(condition: @Sendable (Snapshot) -> Bool, continuation: CheckedContinuation<Void, Never>)] = []
        for waiter in conditions {
            if waiter.condition(snapshot) { waiter.continuation.resume() } else { still.append(waiter) }
        }
        conditions = still
    }
}

/// A handler that records itself in a `Recorder` and finishes only when released.
struct BlockingHandler: OperationHandler {
    let operation: String
    let recorder: Recorder

    init(operation: String = "block", recorder: Recorder) {
        self.operation = operation
        self.recorder = recorder
    }

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        await recorder.enter()
        await recorder.awaitRelease()
        await recorder.leave()
        return HandlerResponse(payload: request.payload, contentType: request.contentType)
    }
}

/// A handler that fails in a given way.
struct FailingHandler: OperationHandler {
    let operation: String
    let error: any Error & Sendable

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        throw error
    }
}

/// A handler that answers with a fixed response.
struct FixedHandler: OperationHandler {
    let operation: String
    let response: HandlerResponse

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        response
    }
}

struct PlainError: Error {}

func decodeErrorBody(_ result: HandlerResponse) throws -> ErrorBody {
    try JSONDecoder().decode(ErrorBody.self, from: result.payload)
}

func text(_ data: Data) -> String {
    String(decoding: data, as: UTF8.self)
}
