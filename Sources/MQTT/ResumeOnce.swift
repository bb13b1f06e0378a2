import Synchronization

/// A continuation resumed at most once: by the outcome it waits for, or by cancellation of the
/// task waiting on it, whichever comes first; the later one is ignored. So a wait on the broker
/// (a CONNACK, a PUBACK, a SUBACK) always ends when its task is cancelled.
final class ResumeOnce<Value: Sendable>: Sendable {
    private enum State {
        case pending
        case waiting(CheckedContinuation<Value, any Error>)
        case cancelled
        case resumed
    }

    private let state = Mutex(State.pending)

    /// Resumes the waiter with `result`, unless it was resumed or cancelled already.
    func resume(with result: Result<Value, any Error>) {
        let continuation: CheckedContinuation<Value, any Error>? = state.withLock { state in
            guard case .waiting(let continuation) = state else {
                if case .pending = state { state = .resumed }
                return nil
            }
            state = .resumed
            return continuation
        }
        continuation?.resume(with: result)
    }

    func resume(throwing error: any Error) { resume(with: .failure(error)) }

    /// Attaches the waiting continuation; false (and resumed with `CancellationError`) when
    /// the task was cancelled first.
    fileprivate func attach(_ continuation: CheckedContinuation<Value, any Error>) -> Bool {
        let attached: Bool? = state.withLock { state in
            switch state {
            case .pending:
                state = .waiting(continuation)
                return true
            case .cancelled: return false
            case .resumed, .waiting: return nil
            }
        }
        switch attached {
        case true?: return true
        case false?:
            continuation.resume(throwing: CancellationError())
            return false
        case nil:
            preconditionFailure("ResumeOnce attached twice or resumed before it waited")
        }
    }

    fileprivate func cancel() {
        let continuation: CheckedContinuation<Value, any Error>? = state.withLock { state in
            switch state {
            case .pending:
                state = .cancelled
                return nil
            case .waiting(let continuation):
                state = .cancelled
                return continuation
            case .cancelled, .resumed:
                return nil
            }
        }
        continuation?.resume(throwing: CancellationError())
    }
}

/// Suspends until `start`'s waiter is resumed, or throws `CancellationError` as soon as the task
/// is cancelled. `start` runs only if the task was not cancelled before it.
func withCancellableContinuation<Value: Sendable>(_ start: (ResumeOnce<Value>) -> Void) async throws -> Value {
    let waiter = ResumeOnce<Value>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            if waiter.attach(continuation) { start(waiter) }
        }
    } onCancel: {
        waiter.cancel()
    }
}
