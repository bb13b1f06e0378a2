import Synchronization

/// The counters of one run, shared by every device, the event loops' reply hooks and the
/// timeout sweeper.
final class RunStats: Sendable {
    struct State {
        var connects = 0
        var connected = 0
        var sent = 0
        /// When the latest request was sent.
        var lastSent: ContinuousClock.Instant?
        var finals = 0
        var statuses: [Int: Int] = [:]
        var accepted = 0
        var mismatches = 0
        var unmatched = 0
        var duplicates = 0
        var late = 0
        var timeouts = 0
        var unexpectedStatus = 0
        var publishFailures = 0
        var noSubscribers = 0
        var abandoned = 0
        var operations: [SimulatorReport.OperationCounts]
        /// Latencies of the final replies with the expected status, in microseconds, in
        /// arrival order.
        var latencies: [UInt32] = []
        var samples: [String] = []
        var commands = SimulatorReport.CommandCounts()
    }

    static let maxSamples = 10

    let state: Mutex<State>

    init(operations: [DeviceProfile.Operation]) {
        let counts = operations.map { operation in
            var counts = SimulatorReport.OperationCounts()
            counts.expectStatus = operation.expectStatus
            return counts
        }
        state = Mutex(State(operations: counts))
    }

    func connectedOnce() { state.withLock { $0.connects += 1 } }

    func deviceReady() { state.withLock { $0.connected += 1 } }

    func sent(operation: Int, at instant: ContinuousClock.Instant) {
        state.withLock { state in
            state.sent += 1
            state.lastSent = instant
            state.operations[operation].sent += 1
        }
    }

    func finalReply(operation: Int, status: Int, expected: Int, latency: Duration) {
        let micros = UInt32(clamping: latency.components.seconds * 1_000_000 + latency.components.attoseconds / 1_000_000_000_000)
        state.withLock { state in
            state.finals += 1
            state.statuses[status, default: 0] += 1
            state.operations[operation].replies["\(status)", default: 0] += 1
            if status == expected { state.latencies.append(micros) } else { state.unexpectedStatus += 1 }
        }
    }

    func interimReply() { state.withLock { $0.accepted += 1 } }

    func timedOut(operation: Int) {
        state.withLock { state in
            state.timeouts += 1
            state.operations[operation].timeouts += 1
        }
    }

    func mismatch(_ description: String) {
        state.withLock { state in
            state.mismatches += 1
            if state.samples.count < Self.maxSamples { state.samples.append("mismatch: \(description)") }
        }
    }

    func unmatched(_ description: String) {
        state.withLock { state in
            state.unmatched += 1
            if state.samples.count < Self.maxSamples { state.samples.append("unmatched: \(description)") }
        }
    }

    func duplicate(_ description: String) {
        state.withLock { state in
            state.duplicates += 1
            if state.samples.count < Self.maxSamples { state.samples.append("duplicate: \(description)") }
        }
    }

    /// A reply to a request the device sent and no longer awaited: it timed out, or the run
    /// was stopped. Not a problem by itself; the timeout, if any, is counted as one.
    func lateReply() { state.withLock { $0.late += 1 } }

    func publishFailed(_ description: String) {
        state.withLock { state in
            state.publishFailures += 1
            if state.samples.count < Self.maxSamples { state.samples.append("publish failed: \(description)") }
        }
    }

    func noSubscriber() { state.withLock { $0.noSubscribers += 1 } }

    func abandoned(_ count: Int) { state.withLock { $0.abandoned += count } }

    // MARK: Commands

    func commandReceived() { state.withLock { $0.commands.received += 1 } }

    func commandExecuted() { state.withLock { $0.commands.executed += 1 } }

    func commandRepeat() { state.withLock { $0.commands.repeats += 1 } }

    func commandWentOffline() { state.withLock { $0.commands.offline += 1 } }

    /// An answer about to be sent: a final status, or a 102 or 202 on the way.
    func commandAnswered(status: Int) { state.withLock { $0.commands.answers["\(status)", default: 0] += 1 } }

    func commandMalformed(_ description: String) {
        state.withLock { state in
            state.commands.malformed += 1
            if state.samples.count < Self.maxSamples { state.samples.append("malformed command: \(description)") }
        }
    }

    func commandPublishFailed(_ description: String) {
        state.withLock { state in
            state.commands.publishFailures += 1
            if state.samples.count < Self.maxSamples { state.samples.append("command answer failed: \(description)") }
        }
    }
}
