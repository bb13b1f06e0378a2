import CourierCore
import Foundation
import MQTT
import Synchronization

/// What every device of a run shares: the profile, the run's token, and the counters.
struct RunContext: Sendable {
    let profile: DeviceProfile
    var topics = Topics()
    /// Distinguishes this run's correlation data and request ids from any other run's.
    let token: String
    let maker: RequestMaker
    let stats: RunStats
    let clock = ContinuousClock()

    /// Correlation data (MQTT 5) or request id (MQTT 3.1.1): `{token}.{device index}.{seq}`,
    /// at most 64 characters from the id alphabet.
    func correlation(device: Int, seq: UInt64) -> String { "\(token).\(device).\(seq)" }

    /// The device index and sequence number of a correlation of this run.
    func parseCorrelation(_ text: Substring) -> (device: Int, seq: UInt64)? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == token, let device = Int(parts[1]), let seq = UInt64(parts[2]) else { return nil }
        return (device, seq)
    }
}

/// One simulated device: sends requests over its own MQTT connection and matches the replies
/// that come back to the requests it has outstanding.
///
/// Replies arrive on the event loop's thread (the client's `onMessage` hook); requests are sent
/// from tasks. Both meet in `state`. A reply can arrive before the task that published the
/// request starts waiting for it (the broker's PUBACK and the bridge's reply race), so an
/// outcome is kept in the pending entry until the task collects it.
final class SimulatedDevice: Sendable {
    enum Outcome: Sendable {
        case replied
        case timedOut
        case failed
        case abandoned
    }

    struct Pending {
        let operation: Int
        /// What its latency and timeout count from: when it was sent, or when it was due.
        let timedFrom: ContinuousClock.Instant
        let deadline: ContinuousClock.Instant
        /// The request's bytes when the operation echoes them, to check the reply against.
        let echo: Data?
        var waiter: CheckedContinuation<Outcome, Never>?
        var outcome: Outcome?
    }

    struct State {
        var nextSeq: UInt64 = 0
        var pending: [UInt64: Pending] = [:]
        /// Sequence numbers answered, and those sent but no longer awaited (timed out,
        /// abandoned, or whose publish failed), to tell a duplicate from a late reply.
        var answered = BitSet()
        var released = BitSet()
        var random: SeededGenerator
        /// Set when the run is abandoned: nothing new is sent, every waiter is released.
        var closed = false
    }

    let index: Int
    let id: String
    let context: RunContext
    private let state: Mutex<State>

    init(index: Int, context: RunContext) {
        self.index = index
        id = context.profile.deviceID(index)
        self.context = context
        let seed = context.profile.seed.map { $0 &+ UInt64(index) &* 0x9E37_79B9 } ?? UInt64.random(in: 0...UInt64.max)
        state = Mutex(State(random: SeededGenerator(seed: seed)))
    }

    /// The filters to subscribe before sending: its replies, and its commands when it takes any.
    var filters: [String] {
        let topics = context.topics
        let legacy = context.profile.convention == .mqtt311
        let commands = context.profile.commands.isEmpty ? [] : [topics.commandFilter(device: id, legacy: legacy)]
        if context.maker.operations.isEmpty { return commands }
        if !legacy { return [topics.replyFilter(id)] + commands }
        let operations = Array(Set(context.maker.operations.map(\.name))).sorted()
        return operations.map { topics.replyNamespace(id) + "/\($0)/+/+" } + commands
    }

    // MARK: Sending

    /// Sends one request and returns when its final reply arrived, it timed out, or it failed.
    /// Its latency and timeout count from `due` (an open loop's schedule), or from now.
    func request(over client: MQTTClient, due: ContinuousClock.Instant? = nil) async -> Outcome {
        let profile = context.profile
        let now = context.clock.now
        let start = due ?? now
        let prepared: (seq: UInt64, operation: Int, payload: Data)? = state.withLock { state in
            guard !state.closed else { return nil }
            let seq = state.nextSeq
            state.nextSeq += 1
            let operation = context.maker.pick(using: &state.random)
            let kind = context.maker.operations[operation].payload
            let payload = RequestMaker.payload(kind, using: &state.random)
            var echo: Data?
            if case .echo = kind { echo = payload }
            state.pending[seq] = Pending(operation: operation, timedFrom: start, deadline: start + profile.timeout, echo: echo)
            return (seq, operation, payload)
        }
        guard let (seq, operation, payload) = prepared else { return .abandoned }
        let name = context.maker.operations[operation].name
        let correlation = context.correlation(device: index, seq: seq)
        let topic: String
        var properties = MQTTProperties()
        switch profile.convention {
        case .mqtt5:
            topic = context.topics.requestTopic(device: id, operation: name)
            properties.responseTopic = context.topics.replyNamespace(id) + "/\(name)"
            properties.correlationData = Data(correlation.utf8)
            properties.contentType = context.maker.operations[operation].payload.contentType
        case .mqtt311:
            topic = context.topics.requestTopic(device: id, operation: name, requestId: correlation)
        }
        context.stats.sent(operation: operation, at: now)
        do {
            let ack = try await client.publish(topic, payload: payload, qos: profile.qos == 0 ? .atMostOnce : .atLeastOnce, properties: properties)
            if ack.reasonCode == PublishAck.noMatchingSubscribers {
                context.stats.noSubscriber()
            } else if !ack.isDelivered {
                context.stats.publishFailed("\(id): broker refused \(topic) (reason \(ack.reasonCode))")
            }
        } catch {
            // The broker may have taken it before the connection failed: a reply is late.
            state.withLock { state in
                state.pending[seq] = nil
                state.released.insert(seq)
            }
            // Stopped while the publish waited for its PUBACK (Ctrl-C): no failure of the broker's.
            if error is CancellationError { return .abandoned }
            context.stats.publishFailed("\(id): \(error)")
            return .failed
        }
        return await withCheckedContinuation { (waiter: CheckedContinuation<Outcome, Never>) in
            let ready: Outcome? = state.withLock { state in
                guard var entry = state.pending[seq] else { return .abandoned }
                if let outcome = entry.outcome {
                    state.pending[seq] = nil
                    return outcome
                }
                if state.closed {
                    state.pending[seq] = nil
                    state.released.insert(seq)
                    return .abandoned
                }
                entry.waiter = waiter
                state.pending[seq] = entry
                return nil
            }
            if let ready { waiter.resume(returning: ready) }
        }
    }

    // MARK: Replies (event loop thread)

    /// Matches one received message to the request it answers.
    func receive(_ message: MQTTMessage) {
        // devices/{id}/replies/{operation}[/{requestId}/{status}]
        let namespace = context.topics.replyNamespace(id) + "/"
        guard message.topic.utf8.starts(with: namespace.utf8) else {
            context.stats.unmatched("\(id) got a message on \(message.topic)")
            return
        }
        // What follows the namespace: {operation}, and for 3.1.1 /{requestId}/{status}.
        let rest = String(decoding: message.topic.utf8.dropFirst(namespace.utf8.count), as: UTF8.self)
        let levels = rest.split(separator: "/", omittingEmptySubsequences: false)
        let correlationText: Substring
        let status: Int
        switch context.profile.convention {
        case .mqtt5:
            guard let data = message.properties.correlationData else {
                context.stats.unmatched("\(id) got a reply without correlation data on \(message.topic)")
                return
            }
            correlationText = Substring(String(decoding: data, as: UTF8.self))
            status = message.properties.userProperty("status").flatMap { Int($0) } ?? 0
        case .mqtt311:
            guard levels.count == 3 else {
                context.stats.unmatched("\(id) got a message on \(message.topic)")
                return
            }
            correlationText = levels[1]
            status = Int(levels[2]) ?? 0
        }
        guard let (device, seq) = context.parseCorrelation(correlationText) else {
            context.stats.unmatched("\(id) got a reply with unknown correlation \"\(correlationText)\"")
            return
        }
        guard device == index else {
            context.stats.mismatch("\(id) got the reply to \(context.profile.deviceID(device))'s request \(correlationText) on \(message.topic)")
            return
        }
        resolve(seq, operationName: levels[0], status: status, payload: message.payload, topic: message.topic)
    }

    private func resolve(_ seq: UInt64, operationName: Substring, status: Int, payload: Data, topic: String) {
        enum Verdict {
            case final(Pending, CheckedContinuation<Outcome, Never>?)
            case interim
            case mismatch(String)
            case duplicate
            case late
            case unknown
        }
        let now = context.clock.now
        let operations = context.maker.operations
        let verdict: Verdict = state.withLock { state in
            guard var entry = state.pending[seq], entry.outcome == nil else {
                if state.released.contains(seq) { return .late }
                if state.answered.contains(seq) || state.pending[seq] != nil { return .duplicate }
                return .unknown
            }
            let operation = operations[entry.operation]
            guard operation.name == operationName else {
                return .mismatch("\(id) asked \(operation.name) and got a reply on \(topic)")
            }
            if status == 202 { return .interim }
            if status == 200, let echo = entry.echo, echo != payload {
                return .mismatch("\(id)'s echo \(seq) came back with other bytes (\(payload.count) bytes, sent \(echo.count))")
            }
            state.answered.insert(seq)
            if let waiter = entry.waiter {
                state.pending[seq] = nil
                return .final(entry, waiter)
            }
            entry.outcome = .replied
            state.pending[seq] = entry
            return .final(entry, nil)
        }
        switch verdict {
        case .final(let entry, let waiter):
            let operation = operations[entry.operation]
            context.stats.finalReply(operation: entry.operation, status: status, expected: operation.expectStatus, latency: entry.timedFrom.duration(to: now))
            waiter?.resume(returning: .replied)
        case .interim:
            context.stats.interimReply()
        case .mismatch(let description):
            context.stats.mismatch(description)
        case .duplicate:
            context.stats.duplicate("\(id) got a second final reply to request \(seq) (status \(status))")
        case .late:
            context.stats.lateReply()
        case .unknown:
            context.stats.unmatched("\(id) got a reply to request \(seq), which it never sent")
        }
    }

    // MARK: Deadlines

    /// Times out every request past its deadline; returns how many.
    @discardableResult
    func expire(now: ContinuousClock.Instant) -> Int {
        let expired: [(operation: Int, waiter: CheckedContinuation<Outcome, Never>?)] = state.withLock { state in
            var expired: [(Int, CheckedContinuation<Outcome, Never>?)] = []
            for (seq, entry) in state.pending where entry.outcome == nil && entry.deadline <= now {
                state.released.insert(seq)
                if let waiter = entry.waiter {
                    state.pending[seq] = nil
                    expired.append((entry.operation, waiter))
                } else {
                    state.pending[seq]?.outcome = .timedOut
                    expired.append((entry.operation, nil))
                }
            }
            return expired
        }
        for (operation, waiter) in expired {
            context.stats.timedOut(operation: operation)
            waiter?.resume(returning: .timedOut)
        }
        return expired.count
    }

    /// Stops the device: nothing new is sent and every waiting task is released. Replies still
    /// on their way (a bridge draining at shutdown answers them) are then counted as late.
    func abandon() {
        let waiters: [CheckedContinuation<Outcome, Never>] = state.withLock { state in
            state.closed = true
            var waiters: [CheckedContinuation<Outcome, Never>] = []
            for (seq, entry) in state.pending where entry.outcome == nil {
                state.released.insert(seq)
                if let waiter = entry.waiter {
                    waiters.append(waiter)
                    state.pending[seq] = nil
                } else {
                    state.pending[seq]?.outcome = .abandoned
                }
            }
            return waiters
        }
        context.stats.abandoned(waiters.count)
        for waiter in waiters { waiter.resume(returning: .abandoned) }
    }
}

/// A growable set of small non-negative integers, one bit each.
struct BitSet {
    private var words: [UInt64] = []

    func contains(_ value: UInt64) -> Bool {
        let word = Int(value / 64)
        return word < words.count && words[word] & (1 << (value % 64)) != 0
    }

    mutating func insert(_ value: UInt64) {
        let word = Int(value / 64)
        if word >= words.count { words.append(contentsOf: repeatElement(0, count: word - words.count + 1)) }
        words[word] |= 1 << (value % 64)
    }
}
