import Foundation
import MQTT
import Synchronization

/// A request from a well-behaved device during a storm, and the one reply it must get.
struct GoodRequest: Sendable {
    enum Phase: Sendable {
        /// Before the storm, to see the bridge answer at all; not counted.
        case warmUp
        case storm
        /// The first request after the storm, timed on its own.
        case afterStorm
    }

    enum Expectation: Sendable {
        /// The same bytes back.
        case echo(Data)
        /// `telemetry.summary` of these readings.
        case summary(sensor: String, readings: [Double])
    }

    let device: Int
    let operation: String
    let correlation: String
    /// The topic the reply must come on: the Response Topic (MQTT 5), or
    /// `devices/{id}/replies/{operation}/{requestId}/200` (3.1.1).
    let replyTopic: String
    let expectation: Expectation
    let phase: Phase
    var sentAt: ContinuousClock.Instant
}

/// What came back to the storm's well-behaved devices and to its bystander: every final reply
/// checked against its request, everything else counted as a stray.
///
/// Messages arrive on the event loop's thread (the clients' `onMessage` hooks); requests are
/// registered from the storm's task. Both meet in `state`; tasks that wait for a condition
/// (a device with room for one more request, no request left pending) are woken on every
/// change.
final class StormLedger: Sendable {
    enum Outcome: Sendable, Equatable {
        case correct(latency: Duration)
        case wrong(String)
    }

    struct State {
        var pending: [String: GoodRequest] = [:]
        /// Correlations answered, and those given up on (their requests count as missing).
        var answered: Set<String> = []
        var givenUp: Set<String> = []
        var outstanding: [Int]
        /// Outcomes of warm-up and after-storm requests, for the task that waits for them.
        var outcomes: [String: Outcome] = [:]

        var sent = 0
        var correct = 0
        var wrong = 0
        var missing = 0
        var duplicates = 0
        var interim = 0
        var late = 0
        /// Messages to the bystander.
        var strays = 0
        /// Messages to a good device that answer none of its requests.
        var unsolicited = 0
        /// Final-reply latencies of storm requests, in microseconds.
        var latencies: [UInt32] = []
        var samples: [String] = []
        var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    }

    static let maxSamples = 20

    let devices: [String]
    let bystander: String
    let state: Mutex<State>
    private let clock = ContinuousClock()

    init(devices: [String], bystander: String) {
        self.devices = devices
        self.bystander = bystander
        state = Mutex(State(outstanding: Array(repeating: 0, count: devices.count)))
    }

    // MARK: Requests

    /// Registers a request about to be published.
    func register(_ request: GoodRequest) {
        state.withLock { state in
            state.pending[request.correlation] = request
            state.outstanding[request.device] += 1
            if request.phase == .storm { state.sent += 1 }
        }
    }

    /// The request's publish failed: it counts as missing (it was never asked).
    func publishFailed(_ correlation: String, error: any Error) {
        changing { state in
            guard let request = state.pending.removeValue(forKey: correlation) else { return }
            state.outstanding[request.device] -= 1
            state.givenUp.insert(correlation)
            if request.phase == .storm { state.missing += 1 }
            state.outcomes[correlation] = .wrong("publish failed: \(error)")
            Self.sample(&state, "\(devices[request.device]) could not publish request \(correlation): \(error)")
        }
    }

    // MARK: Messages (event loop thread)

    /// A message to good device `index`.
    func receive(device index: Int, _ message: MQTTMessage) {
        let now = clock.now
        let levels = message.topic.split(separator: "/", omittingEmptySubsequences: false)
        let correlation: String
        let status: Int?
        if let data = message.properties.correlationData {
            correlation = String(decoding: data, as: UTF8.self)
            status = message.properties.userProperty("status").flatMap { Int($0) }
        } else if levels.count == 6 {
            correlation = String(levels[4])
            status = Int(levels[5])
        } else {
            changing { state in
                state.unsolicited += 1
                Self.sample(&state, "\(devices[index]) got a message it did not ask for on \(message.topic.prefix(200))")
            }
            return
        }
        changing { state in
            guard let request = state.pending[correlation], request.device == index else {
                if state.answered.contains(correlation) {
                    state.duplicates += 1
                    Self.sample(&state, "\(devices[index]) got a second final reply to \(correlation) (status \(status.map(String.init) ?? "none"))")
                } else if state.givenUp.contains(correlation) {
                    state.late += 1
                } else {
                    state.unsolicited += 1
                    Self.sample(&state, "\(devices[index]) got a message it did not ask for on \(message.topic.prefix(200)), correlation \(correlation.prefix(80))")
                }
                return
            }
            if status == 202 || status == 102 {
                state.interim += 1
                Self.sample(&state, "\(devices[index]) got an interim \(status ?? 0) to \(correlation), which asked for no acknowledgement")
                return
            }
            state.pending[correlation] = nil
            state.answered.insert(correlation)
            state.outstanding[index] -= 1
            let latency = request.sentAt.duration(to: now)
            let problem = Self.check(message, status: status, against: request)
            if let problem {
                Self.sample(&state, "\(devices[index]) \(request.operation) \(correlation): \(problem)")
            }
            switch request.phase {
            case .storm:
                if problem == nil {
                    state.correct += 1
                    let microseconds = latency.components.seconds * 1_000_000 + latency.components.attoseconds / 1_000_000_000_000
                    state.latencies.append(UInt32(clamping: microseconds))
                } else {
                    state.wrong += 1
                }
            case .warmUp, .afterStorm:
                state.outcomes[correlation] = problem.map(Outcome.wrong) ?? .correct(latency: latency)
            }
        }
    }

    /// A message to the bystander, which never asks: every one is a stray.
    func receiveAtBystander(_ message: MQTTMessage) {
        changing { state in
            state.strays += 1
            Self.sample(&state, "the bystander \(bystander) got a message on \(message.topic.prefix(200)) (\(message.payload.count) bytes)")
        }
    }

    /// What is wrong with a final reply, or nil when it is the one the request must get.
    static func check(_ message: MQTTMessage, status: Int?, against request: GoodRequest) -> String? {
        guard message.topic == request.replyTopic else { return "reply on \(message.topic.prefix(200)), expected \(request.replyTopic)" }
        guard status == 200 else {
            let error = message.properties.userProperty("error").map { " \($0)" } ?? ""
            return "status \(status.map(String.init) ?? "none")\(error): \(String(decoding: message.payload.prefix(300), as: UTF8.self))"
        }
        switch request.expectation {
        case .echo(let payload):
            guard message.payload == payload else { return "echo came back with other bytes (\(message.payload.count) bytes, sent \(payload.count))" }
        case .summary(let sensor, let readings):
            guard let object = try? JSONSerialization.jsonObject(with: message.payload) as? [String: Any],
                let count = object["count"] as? Int, let min = object["min"] as? Double, let max = object["max"] as? Double,
                let mean = object["mean"] as? Double
            else {
                return "summary is not the expected JSON: \(String(decoding: message.payload.prefix(300), as: UTF8.self))"
            }
            let expectedMean = readings.reduce(0, +) / Double(readings.count)
            guard count == readings.count, min == readings.min(), max == readings.max(),
                abs(mean - expectedMean) <= 1e-9 * Swift.max(1, abs(expectedMean)), object["sensor"] as? String == sensor
            else {
                return "summary \(String(decoding: message.payload.prefix(300), as: UTF8.self)) for \(readings.count) readings (mean \(expectedMean))"
            }
        }
        return nil
    }

    // MARK: Waiting

    /// Waits until `device` has fewer than `limit` requests outstanding. Past the deadline it
    /// gives up on the device's storm requests still pending: the oldest has waited longer
    /// than the deadline allowed, and a bridge that answers nothing must not stall the storm.
    /// Returns false when it gave up.
    func waitForRoom(device: Int, limit: Int, until deadline: ContinuousClock.Instant) async -> Bool {
        await wait(until: deadline) { $0.outstanding[device] < limit }
        return state.withLock { state in
            guard state.outstanding[device] >= limit else { return true }
            for (correlation, request) in state.pending where request.device == device && request.phase == .storm {
                giveUp(correlation, request, &state)
            }
            return false
        }
    }

    /// Good requests the storm did not send because the bridge had stopped answering: they
    /// count as sent and missing.
    func notSent(_ count: Int) {
        guard count > 0 else { return }
        state.withLock { state in
            state.sent += count
            state.missing += count
            Self.sample(&state, "the bridge stopped answering: \(count) good requests were not sent")
        }
    }

    /// Waits for the outcome of a warm-up or after-storm request; nil past the deadline.
    func outcome(of correlation: String, until deadline: ContinuousClock.Instant) async -> Outcome? {
        await wait(until: deadline) { $0.outcomes[correlation] != nil }
        return state.withLock { $0.outcomes[correlation] }
    }

    /// Waits until no storm request is pending, or the deadline; then gives up on those left
    /// (they count as missing, and a reply that still comes as late).
    func drain(until deadline: ContinuousClock.Instant) async {
        await wait(until: deadline) { state in !state.pending.values.contains { $0.phase == .storm } }
        state.withLock { state in
            for (correlation, request) in state.pending where request.phase == .storm {
                giveUp(correlation, request, &state)
            }
        }
    }

    private func giveUp(_ correlation: String, _ request: GoodRequest, _ state: inout State) {
        state.pending[correlation] = nil
        state.givenUp.insert(correlation)
        state.outstanding[request.device] -= 1
        state.missing += 1
        Self.sample(&state, "\(devices[request.device]) got no final reply to \(request.operation) \(correlation)")
    }

    /// Storm requests still waiting for their reply.
    var pendingCount: Int { state.withLock { state in state.pending.values.count { $0.phase == .storm } } }

    private func wait(until deadline: ContinuousClock.Instant, _ condition: @escaping @Sendable (State) -> Bool) async {
        while clock.now < deadline {
            let id = UUID()
            let satisfied = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let ready = self.state.withLock { state in
                            if condition(state) { return true }
                            state.waiters[id] = continuation
                            return false
                        }
                        if ready { continuation.resume() }
                    }
                    return true
                }
                group.addTask {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    return false
                }
                let first = await group.next() ?? false
                if !first { self.state.withLock { $0.waiters.removeValue(forKey: id) }?.resume() }
                group.cancelAll()
                await group.waitForAll()
                return first
            }
            if satisfied, state.withLock({ condition($0) }) { return }
            if Task.isCancelled { return }
        }
    }

    /// Changes the state and wakes every waiter.
    private func changing(_ change: (inout State) -> Void) {
        let waiters = state.withLock { state in
            change(&state)
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    private static func sample(_ state: inout State, _ text: String) {
        if state.samples.count < maxSamples { state.samples.append(text) }
    }
}
