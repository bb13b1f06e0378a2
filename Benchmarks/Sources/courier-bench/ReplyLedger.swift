import Foundation
import MQTT
import Synchronization

/// What became of one request sent by a simulated device.
enum RequestOutcome: Sendable {
    /// Status 200 (or no status from a responder that sends none), right device, right
    /// Correlation Data, the request's own payload back; with the round-trip time.
    case ok(Duration)
    /// A reply with another status (429, 503, 504...).
    case status(Int)
    /// A reply carrying this request's Correlation Data but the wrong payload, reaching the
    /// wrong device, or without a `status` where one is required.
    case mismatch
    /// No reply within the timeout.
    case timeout
    /// The broker refused the request or had no subscriber for it (PUBACK reason code).
    case undelivered(Int)
    /// The run stopped before the reply came.
    case aborted
}

/// Every request in flight, keyed by its Correlation Data, and every reply checked against it.
///
/// Correlation Data is 16 bytes: a random run nonce and a sequence number, both little-endian,
/// so no two requests of a run share it. The payload is derived from the sequence number, so a
/// reply's payload is checked without storing it. Replies are matched on the network thread of
/// the device's client, and the round-trip time is taken there.
///
/// A reply can arrive before its requester starts waiting (the requester first awaits its own
/// PUBACK): it is kept in the entry and handed over when the wait begins.
final class ReplyLedger: Sendable {
    /// Replies that break the request/reply contract. Any of them is a correctness failure.
    struct Mismatches: Sendable, Equatable {
        /// The right Correlation Data with another payload.
        var wrongPayload = 0
        /// A reply on another device's topic, or on a topic that is not the Response Topic.
        var wrongDevice = 0
        /// Correlation Data that no request of this run carried.
        var unknownCorrelation = 0
        /// A Courier reply without the `status` user property.
        var missingStatus = 0

        var total: Int { wrongPayload + wrongDevice + unknownCorrelation + missingStatus }

        static func - (lhs: Mismatches, rhs: Mismatches) -> Mismatches {
            Mismatches(
                wrongPayload: lhs.wrongPayload - rhs.wrongPayload,
                wrongDevice: lhs.wrongDevice - rhs.wrongDevice,
                unknownCorrelation: lhs.unknownCorrelation - rhs.unknownCorrelation,
                missingStatus: lhs.missingStatus - rhs.missingStatus
            )
        }

        var summary: String {
            [
                ("wrong payload", wrongPayload), ("wrong device or topic", wrongDevice),
                ("unknown correlation data", unknownCorrelation),
                ("missing status", missingStatus),
            ].filter { $0.1 != 0 }.map { "\($0.1) \($0.0)" }.joined(separator: ", ")
        }
    }

    /// Second (third...) replies to a request that already had its answer. The contract
    /// promises exactly one final reply per request.
    struct Duplicates: Sendable, Equatable {
        /// The same status as the first answer (and, for 200, the request's payload).
        var identical = 0
        /// Another status or payload than the first answer: a request answered twice with
        /// different results.
        var different = 0

        var total: Int { identical + different }

        static func - (lhs: Duplicates, rhs: Duplicates) -> Duplicates {
            Duplicates(identical: lhs.identical - rhs.identical, different: lhs.different - rhs.different)
        }
    }

    /// Counters that are not per request.
    struct Counters: Sendable {
        var mismatches = Mismatches()
        var duplicates = Duplicates()
        /// Replies that came after their request had timed out.
        var lateReplies = 0
        /// The first few mismatches, described, for the report.
        var examples: [String] = []
        /// The first few duplicates, described, for the report.
        var duplicateExamples: [String] = []
    }

    private struct Entry {
        let device: Int
        let start: ContinuousClock.Instant
        var waiter: CheckedContinuation<RequestOutcome, Never>?
        var outcome: RequestOutcome?
    }

    private struct State {
        var nextSequence: UInt64 = 0
        var entries: [UInt64: Entry] = [:]
        var timedOut: Set<UInt64> = []
        /// The status of every request answered so far, to compare duplicates with.
        var answered: [UInt64: Int] = [:]
        var counters = Counters()
        var requireStatus = false
    }

    /// Bytes in every request payload.
    static let payloadSize = 64
    static let maxExamples = 5

    private let state = Mutex(State())
    private let nonce = UInt64.random(in: 0...UInt64.max)
    private let replyTopics: [String]

    /// - Parameter replyTopics: each device's Response Topic, by device index.
    init(replyTopics: [String]) {
        self.replyTopics = replyTopics
    }

    /// Whether a reply must carry the `status` user property (Courier's replies do; the plain
    /// responder of the baseline sends none, which counts as 200).
    func requireStatus(_ required: Bool) {
        state.withLock { $0.requireStatus = required }
    }

    var counters: Counters { state.withLock { $0.counters } }

    /// Requests waiting for a reply.
    var inFlight: Int { state.withLock { $0.entries.count } }

    /// Records a request about to be sent by `device`, timed from `start`; returns its sequence
    /// number, Correlation Data and payload.
    func register(device: Int, start: ContinuousClock.Instant) -> (sequence: UInt64, correlation: Data, payload: Data) {
        let sequence = state.withLock { state in
            let sequence = state.nextSequence
            state.nextSequence += 1
            state.entries[sequence] = Entry(device: device, start: start)
            return sequence
        }
        var correlation = Data(capacity: 16)
        withUnsafeBytes(of: nonce.littleEndian) { correlation.append(contentsOf: $0) }
        withUnsafeBytes(of: sequence.littleEndian) { correlation.append(contentsOf: $0) }
        return (sequence, correlation, Self.payload(sequence))
    }

    /// The payload of request `sequence`: 64 printable bytes that name it.
    static func payload(_ sequence: UInt64) -> Data {
        let head = Array("courier-bench request \(String(sequence, radix: 16)) ".utf8)
        let filler = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var bytes = Array(head.prefix(payloadSize))
        var index = 0
        while bytes.count < payloadSize {
            bytes.append(filler[index % filler.count])
            index += 1
        }
        return Data(bytes)
    }

    /// Waits for the outcome of request `sequence`; a cancelled wait ends as `.aborted`.
    func wait(for sequence: UInt64) async -> RequestOutcome {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<RequestOutcome, Never>) in
                let ready: RequestOutcome? = state.withLock { state in
                    guard var entry = state.entries[sequence] else { return .aborted }
                    if let outcome = entry.outcome {
                        state.entries[sequence] = nil
                        return outcome
                    }
                    if Task.isCancelled {
                        state.entries[sequence] = nil
                        return .aborted
                    }
                    entry.waiter = continuation
                    state.entries[sequence] = entry
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            resolve(sequence, .aborted)
        }
    }

    /// Ends request `sequence` without a reply (refused by the broker, say) unless it already
    /// has its outcome.
    func resolve(_ sequence: UInt64, _ outcome: RequestOutcome) {
        let waiter: CheckedContinuation<RequestOutcome, Never>? = state.withLock { state in
            guard var entry = state.entries[sequence], entry.outcome == nil else { return nil }
            if let waiter = entry.waiter {
                state.entries[sequence] = nil
                return waiter
            }
            entry.outcome = outcome
            state.entries[sequence] = entry
            return nil
        }
        waiter?.resume(returning: outcome)
    }

    /// Forgets request `sequence`, whose publish failed.
    func forget(_ sequence: UInt64) {
        _ = state.withLock { $0.entries.removeValue(forKey: sequence) }
    }

    /// Times out every request started before `cutoff` that has no reply yet.
    func expire(startedBefore cutoff: ContinuousClock.Instant) {
        let waiters: [CheckedContinuation<RequestOutcome, Never>] = state.withLock { state in
            var waiters: [CheckedContinuation<RequestOutcome, Never>] = []
            for (sequence, entry) in state.entries where entry.outcome == nil && entry.start < cutoff {
                state.timedOut.insert(sequence)
                if let waiter = entry.waiter {
                    waiters.append(waiter)
                    state.entries[sequence] = nil
                } else {
                    state.entries[sequence]?.outcome = .timeout
                }
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: .timeout) }
    }

    /// Checks a reply received by `device`'s client; called on its network thread.
    func receive(_ message: MQTTMessage, device: Int) {
        let end = ContinuousClock.now
        guard let sequence = sequence(of: message.properties.correlationData) else {
            record(message, device: device, "unknown correlation data") { $0.unknownCorrelation += 1 }
            return
        }
        let statusText = message.properties.userProperty("status")
        let payloadMatches = message.payload == Self.payload(sequence)
        var problem: (String, WritableKeyPath<Mismatches, Int>)?
        var duplicate: String?
        let resolved: (CheckedContinuation<RequestOutcome, Never>, RequestOutcome)? = state.withLock { state in
            let status = statusText.flatMap { Int($0) } ?? (state.requireStatus ? nil : 200)
            guard var entry = state.entries[sequence], entry.outcome == nil else {
                if state.timedOut.contains(sequence) {
                    state.counters.lateReplies += 1
                } else if let first = state.answered[sequence] {
                    let same = status == first && (first != 200 || payloadMatches)
                    if same { state.counters.duplicates.identical += 1 } else { state.counters.duplicates.different += 1 }
                    duplicate = "\(same ? "identical" : "DIFFERENT") duplicate (first status \(first), this one \(status.map(String.init) ?? "none"))"
                } else {
                    problem = ("unknown correlation data", \.unknownCorrelation)
                }
                return nil
            }
            let outcome: RequestOutcome
            if entry.device != device || message.topic != replyTopics[entry.device] {
                problem = ("reply for device \(entry.device) reached device \(device)", \.wrongDevice)
                outcome = .mismatch
            } else if let status {
                if status != 200 {
                    outcome = .status(status)
                } else if !payloadMatches {
                    problem = ("wrong payload (\(message.payload.count) bytes)", \.wrongPayload)
                    outcome = .mismatch
                } else {
                    outcome = .ok(end - entry.start)
                }
            } else {
                problem = ("status \(statusText.map { "\"\($0)\"" } ?? "missing")", \.missingStatus)
                outcome = .mismatch
            }
            state.answered[sequence] = status ?? -1
            if let waiter = entry.waiter {
                state.entries[sequence] = nil
                return (waiter, outcome)
            }
            entry.outcome = outcome
            state.entries[sequence] = entry
            return nil
        }
        if let problem { record(message, device: device, problem.0, problem.1) }
        if let duplicate {
            let example = "\(duplicate): topic \(message.topic), correlation \(Self.hex(message.properties.correlationData))"
            state.withLock { state in
                if state.counters.duplicateExamples.count < Self.maxExamples { state.counters.duplicateExamples.append(example) }
            }
        }
        if let resolved { resolved.0.resume(returning: resolved.1) }
    }

    private func record(_ message: MQTTMessage, device: Int, _ what: String, _ counter: WritableKeyPath<Mismatches, Int>) {
        record(message, device: device, what) { $0[keyPath: counter] += 1 }
    }

    private func record(_ message: MQTTMessage, device: Int, _ what: String, _ count: (inout Mismatches) -> Void) {
        let example = "\(what): topic \(message.topic), correlation \(Self.hex(message.properties.correlationData)), device \(device)"
        state.withLock { state in
            count(&state.counters.mismatches)
            if state.counters.examples.count < Self.maxExamples { state.counters.examples.append(example) }
        }
    }

    private static func hex(_ data: Data?) -> String {
        data.map { $0.map { String(format: "%02x", $0) }.joined() } ?? "none"
    }

    private func sequence(of correlation: Data?) -> UInt64? {
        guard let correlation, correlation.count == 16 else { return nil }
        let (runNonce, sequence) = correlation.withUnsafeBytes { bytes in
            (UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)), UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
        return runNonce == nonce ? sequence : nil
    }
}
