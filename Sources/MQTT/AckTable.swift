import Synchronization

/// Matches acknowledgements (PUBACK, SUBACK, QoS 0 write completions) to whoever waits for them
/// (a suspended task or a completion handler), by message id.
///
/// libmosquitto hands out the message id when `mosquitto_publish_v5` returns, but its network
/// thread can receive the acknowledgement before the publishing task gets to register a waiter.
/// Such an acknowledgement is kept as *arrived early* and handed over at registration.
final class AckTable: Sendable {
    enum Kind {
        case publishQoS0
        case publishQoS1
        case subscribe
        /// A re-subscription made on reconnect: nobody waits, the SUBACK is just consumed.
        case ignored
    }

    /// Receives the acknowledgement's reason code, or the error that ended the wait.
    typealias Completion = @Sendable (Result<Int, MQTTError>) -> Void

    enum Entry {
        case waiting(Kind, Completion)
        case arrived(Int)
        case ignored
    }

    struct State {
        var entries: [Int32: Entry] = [:]
        /// Bumped whenever the connection drops, so a QoS 0 write that raced a disconnect is
        /// failed at registration instead of waiting for a callback that will never come.
        var epoch = 0
        /// Set at shutdown or refusal: every later registration fails with it.
        var closed: MQTTError?
    }

    private let state = Mutex(State())

    /// The current connection epoch; read before a publish, passed to ``register``.
    var epoch: Int { state.withLock { $0.epoch } }

    /// Registers a waiter, or resumes it at once when its acknowledgement arrived early.
    func register(_ mid: Int32, kind: Kind, epoch: Int, completion: @escaping Completion) {
        let outcome: Result<Int, MQTTError>? = state.withLock { state in
            if case .arrived(let code) = state.entries[mid] {
                state.entries[mid] = nil
                return .success(code)
            }
            if let closed = state.closed { return .failure(closed) }
            if kind != .publishQoS1, epoch != state.epoch { return .failure(.notConnected) }
            state.entries[mid] = .waiting(kind, completion)
            return nil
        }
        if let outcome { completion(outcome) }
    }

    /// Marks a message id whose acknowledgement nobody waits for.
    func ignore(_ mid: Int32) {
        state.withLock { $0.entries[mid] = .ignored }
    }

    /// Delivers an acknowledgement: to its waiter, or kept until the waiter registers.
    func acknowledge(_ mid: Int32, code: Int) {
        let waiter: Completion? = state.withLock { state in
            switch state.entries[mid] {
            case .waiting(_, let completion):
                state.entries[mid] = nil
                return completion
            case .ignored:
                state.entries[mid] = nil
                return nil
            case .arrived, nil:
                state.entries[mid] = .arrived(code)
                return nil
            }
        }
        waiter?(.success(code))
    }

    /// Fails the waiters whose messages a lost connection dropped: QoS 0 writes and SUBACKs.
    /// QoS 1 publishes stay: libmosquitto sends them again after it reconnects.
    func failLostOnDisconnect() {
        fail(with: MQTTError.notConnected, closing: false) { kind in kind != .publishQoS1 }
    }

    /// Fails every waiter; used at shutdown and after a refused connection.
    func failAll(with error: MQTTError) {
        fail(with: error, closing: true) { _ in true }
    }

    /// How many acknowledgements are waited for.
    var waiting: Int {
        state.withLock { state in
            state.entries.values.reduce(0) { count, entry in
                if case .waiting = entry { return count + 1 }
                return count
            }
        }
    }

    private func fail(with error: MQTTError, closing: Bool, where matches: (Kind) -> Bool) {
        let failed: [Completion] = state.withLock { state in
            state.epoch += 1
            if closing { state.closed = error }
            var failed: [Completion] = []
            for (mid, entry) in state.entries {
                switch entry {
                case .waiting(let kind, let completion) where matches(kind):
                    failed.append(completion)
                    state.entries[mid] = nil
                case .ignored:
                    state.entries[mid] = nil
                default:
                    break
                }
            }
            return failed
        }
        for completion in failed { completion(.failure(error)) }
    }
}
