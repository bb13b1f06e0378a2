import CourierCore
import Foundation
import Logging
import MQTT
import Synchronization

/// Errors of a storm run.
package enum StormError: Error, CustomStringConvertible, Equatable {
    case invalidOptions(String)
    /// The storm's clients did not all connect in time.
    case connectTimeout(broker: String)
    /// The good devices' first requests were not answered correctly: nothing to storm.
    case notAnswering(String)

    package var description: String {
        switch self {
        case .invalidOptions(let message): message
        case .connectTimeout(let broker): "the storm's clients did not all connect to \(broker) within 10 s: is the broker up?"
        case .notAnswering(let problem): "Courier did not answer the warm-up requests correctly, so there is nothing to storm: \(problem)"
        }
    }
}

/// A hostile-input storm against a broker and a running Courier: a few MQTT 5 and 3.1.1
/// clients, and hand-written wire connections for what no libmosquitto client sends, publish
/// ``HostileInput``'s messages, while well-behaved devices send good requests (`echo` and
/// `telemetry.summary`, MQTT 5 and 3.1.1, each with its own correlation) in among them, and a
/// bystander device that never asks listens to its whole namespace.
///
/// The report says whether every good request got exactly its one correct reply, whether
/// anything reached a device that did not ask for it, how the bridge's memory went (given its
/// pid), whether it still runs, and how soon it answered a fresh request after the storm.
///
/// ```swift
/// var options = Storm.Options()
/// options.messages = 100_000
/// options.bridgePID = pid
/// let report = try await Storm(broker: "mqtt://127.0.0.1:1883", options: options, logger: logger).run { print($0) }
/// print(report.summary)
/// ```
package struct Storm: Sendable {
    package struct Options: Sendable {
        /// Hostile messages to send.
        package var messages = 10_000
        /// Good requests, spread evenly among the hostile messages.
        package var goodRequests = 1_000
        package var seed: UInt64 = 1
        /// Part of every device id and correlation; random when nil. Courier remembers
        /// identities for `store.retention`, so a second run with the same token would send
        /// duplicates of the first.
        package var token: String?
        /// The bridge's id, for the forged replies on `courier/bridges/{id}/replies`.
        package var bridgeID = "bridge-1"
        /// The bridge process, to watch its memory and see that it still runs.
        package var bridgePID: Int32?
        /// The operations' `maxPayloadBytes`.
        package var maxPayloadBytes = 262_144
        package var mqtt5Clients = 3
        package var mqtt311Clients = 2
        package var wireConnections = 2
        /// Hostile messages in flight (published and not yet acknowledged) at most.
        package var window = 256
        /// Well-behaved devices of each protocol.
        package var goodMQTT5Devices = 3
        package var goodMQTT311Devices = 1
        /// Requests one good device has outstanding at most; below Courier's
        /// `maxPendingPerDevice` (32 by default), or its answer would be 429.
        package var maxOutstandingPerDevice = 8
        /// A good request without its final reply after this is missing.
        package var replyTimeout: Duration = .seconds(30)
        /// Hostile messages per second; as fast as ``window`` allows when nil.
        package var rate: Double?
        /// How long the devices go on listening after the storm, for late strays.
        package var settle: Duration = .milliseconds(500)
        package var progressInterval: Duration = .seconds(5)

        package init() {}
    }

    package let brokerURL: String
    package let options: Options
    package let logger: Logger

    package init(broker url: String, options: Options, logger: Logger) throws {
        do {
            _ = try MQTTConfiguration(url: url, clientID: "check")
        } catch {
            throw StormError.invalidOptions("\(error)")
        }
        guard options.messages >= 0, options.goodRequests >= 1 else { throw StormError.invalidOptions("the storm needs at least one good request") }
        guard options.mqtt5Clients >= 1, options.mqtt311Clients >= 1, options.wireConnections >= 1 else {
            throw StormError.invalidOptions("the storm needs at least one client of each kind")
        }
        guard options.goodMQTT5Devices >= 1, options.goodMQTT311Devices >= 0, options.window >= 1, options.maxOutstandingPerDevice >= 1 else {
            throw StormError.invalidOptions("the storm needs at least one MQTT 5 good device, a window and room for one request")
        }
        brokerURL = url
        self.options = options
        self.logger = logger
    }

    /// The devices a storm's messages name, for a run token.
    package static func targets(token: String, options: Options) -> HostileTargets {
        HostileTargets(
            hostileDevices: (0..<8).map { "storm-\(token)-h\($0)" },
            bystander: "storm-\(token)-bystander",
            goodDevices: (0..<(options.goodMQTT5Devices + options.goodMQTT311Devices)).map { "storm-\(token)-g\($0)" },
            goodCorrelationPrefix: "\(token).g",
            bridgeID: options.bridgeID,
            maxPayloadBytes: options.maxPayloadBytes
        )
    }

    /// Connects, warms up, storms, drains, checks a fresh request, and returns the report.
    /// `progress` gets a line every ``Options/progressInterval`` while the storm runs.
    package func run(progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> StormReport {
        let token = options.token ?? Simulator.makeToken()
        let targets = Self.targets(token: token, options: options)
        let memory = options.bridgePID.map(MemoryWatch.init(pid:))
        let rssAtStart = memory?.sample()

        let crew = try StormCrew(brokerURL: brokerURL, token: token, targets: targets, options: options, logger: logger)
        do {
            let report = try await run(crew: crew, token: token, targets: targets, memory: memory, rssAtStart: rssAtStart, progress: progress)
            await crew.shutdown()
            return report
        } catch {
            await crew.shutdown()
            throw error
        }
    }

    private func run(
        crew: StormCrew,
        token: String,
        targets: HostileTargets,
        memory: MemoryWatch?,
        rssAtStart: Int?,
        progress: @escaping @Sendable (String) -> Void
    ) async throws -> StormReport {
        let clock = ContinuousClock()
        try await crew.connect()
        var good = GoodRequests(crew: crew, token: token, seed: options.seed)

        // Warm-up: each good device's first request must be answered correctly.
        for device in crew.goodClients.indices {
            let correlation = good.send(device: device, phase: .warmUp)
            switch await crew.ledger.outcome(of: correlation, until: clock.now + options.replyTimeout) {
            case .correct?: break
            case .wrong(let problem)?: throw StormError.notAnswering("\(targets.goodDevices[device]): \(problem)")
            case nil: throw StormError.notAnswering("\(targets.goodDevices[device]) got no reply within \(DurationText.format(options.replyTimeout))")
            }
        }
        let rssAfterWarmUp = memory?.sample()
        let watcher = memory.map { memory in Task { await memory.run() } }
        defer { watcher?.cancel() }

        // The storm: hostile messages, with good requests spread evenly among them.
        var input = HostileInput(seed: options.seed, targets: targets)
        let permits = Permits(options.window)
        let started = clock.now
        var nextProgress = started + options.progressInterval
        var goodSent = 0
        let total = options.messages
        func goodDue(after hostile: Int) -> Int {
            total == 0 ? options.goodRequests : min(options.goodRequests, (hostile * options.goodRequests + total - 1) / total)
        }
        var bridgeGone: Bool { memory?.vanished == true }
        // Set when a good device waited a whole reply timeout for room: the bridge no longer
        // answers, and the good requests left are not sent (they count as missing), so that a
        // stalled bridge ends the storm in bounded time.
        var stalled = false
        var unsent = 0
        func sendGood() async {
            let device = goodSent % crew.goodClients.count
            goodSent += 1
            if !stalled {
                stalled = !(await crew.ledger.waitForRoom(device: device, limit: options.maxOutstandingPerDevice, until: clock.now + options.replyTimeout))
            }
            if stalled {
                unsent += 1
            } else {
                good.send(device: device, phase: .storm)
            }
        }
        for index in 0..<total {
            // A dead bridge answers nothing more, and a cancelled run (Ctrl-C) stops: report
            // what happened until then.
            if bridgeGone || Task.isCancelled { break }
            while goodSent < goodDue(after: index) { await sendGood() }
            if let rate = options.rate {
                let due = started + .seconds(Double(index) / rate)
                if clock.now < due { try? await Task.sleep(until: due, clock: .continuous) }
            }
            await permits.acquire()
            await crew.send(input.next(), whenDone: { permits.release() })
            if clock.now >= nextProgress {
                progress(progressLine(crew: crew, sent: index + 1, elapsed: started.duration(to: clock.now), memory: memory))
                nextProgress = clock.now + options.progressInterval
            }
        }
        if bridgeGone || Task.isCancelled { stalled = true }
        while goodSent < options.goodRequests { await sendGood() }
        crew.ledger.notSent(unsent)
        let sendEnded = clock.now
        await crew.ledger.drain(until: stalled ? clock.now : clock.now + options.replyTimeout)
        let stormEnded = clock.now
        // Every hostile publish acknowledged (or failed) before the fresh request goes out.
        await permits.waitUntilAllReturned(until: clock.now + .seconds(30))
        progress(progressLine(crew: crew, sent: crew.tally.state.withLock { $0.sent }, elapsed: started.duration(to: clock.now), memory: memory))

        // A fresh request after the storm, timed.
        var afterStorm: Double?
        var afterStormProblem: String?
        if bridgeGone {
            afterStormProblem = "the bridge process is gone"
        } else if Task.isCancelled {
            afterStormProblem = "the storm was interrupted"
        } else {
            let probe = good.send(device: 0, phase: .afterStorm)
            switch await crew.ledger.outcome(of: probe, until: clock.now + options.replyTimeout) {
            case .correct(let latency)?: afterStorm = latency.seconds * 1000
            case .wrong(let problem)?: afterStormProblem = problem
            case nil: afterStormProblem = "no reply within \(DurationText.format(options.replyTimeout))"
            }
        }
        // Listening on for strays that come late; there is no event for "nothing more comes".
        if !Task.isCancelled { try? await Task.sleep(for: options.settle) }

        watcher?.cancel()
        let rssAtEnd = memory?.sample()
        let ledger = crew.ledger.state.withLock { $0 }
        var hostile = crew.tally.state.withLock { $0 }
        hostile.clientReconnects = crew.reconnects
        hostile.wireConnections = await crew.wireConnectionCount()
        let sendSeconds = started.duration(to: sendEnded).seconds
        var goodReport = StormReport.Good()
        goodReport.sent = ledger.sent
        goodReport.answeredCorrectly = ledger.correct
        goodReport.wrong = ledger.wrong
        goodReport.missing = ledger.missing
        goodReport.duplicates = ledger.duplicates
        goodReport.interim = ledger.interim
        goodReport.late = ledger.late
        goodReport.latency = LatencySummary(microseconds: ledger.latencies)
        return StormReport(
            seed: options.seed,
            token: token,
            hostile: hostile,
            good: goodReport,
            strays: ledger.strays,
            unsolicited: ledger.unsolicited,
            sendSeconds: sendSeconds,
            seconds: started.duration(to: stormEnded).seconds,
            hostilePerSecond: sendSeconds > 0 ? Double(hostile.sent) / sendSeconds : 0,
            afterStormMilliseconds: afterStorm,
            afterStormProblem: afterStormProblem,
            memory: memory.map { memory in
                StormReport.Memory(atStart: rssAtStart ?? 0, afterWarmUp: rssAfterWarmUp ?? 0, peak: memory.peak, atEnd: rssAtEnd)
            },
            bridgeAlive: memory.map { !$0.vanished && rssAtEnd != nil },
            samples: ledger.samples
        )
    }

    private func progressLine(crew: StormCrew, sent: Int, elapsed: Duration, memory: MemoryWatch?) -> String {
        let (correct, wrong, pending, strays) = crew.ledger.state.withLock { state in
            (state.correct, state.wrong + state.missing + state.duplicates + state.interim, state.pending.count, state.strays + state.unsolicited)
        }
        let seconds = elapsed.seconds
        var line = String(format: "[%6.1fs] ", seconds) + "hostile \(sent)/\(options.messages)"
        if seconds > 0 { line += String(format: " (%.0f/s)", Double(sent) / seconds) }
        line += ", good \(correct)/\(options.goodRequests) correct, \(wrong) wrong, \(pending) pending, \(strays) strays"
        if let memory {
            let state = memory.state.withLock { $0 }
            if let last = state.last {
                line += String(format: ", bridge RSS %.1f MB (peak %.1f MB)", Double(last) / 1_048_576, Double(state.peak) / 1_048_576)
            } else {
                line += ", bridge process GONE"
            }
        }
        return line
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Makes the good devices' requests: `echo` and `telemetry.summary` in turn, from a seeded
/// generator, each with its own correlation `{token}.g{device}.{seq}`.
struct GoodRequests {
    let crew: StormCrew
    let token: String
    private var random: SeededGenerator
    private var sequence = 0

    init(crew: StormCrew, token: String, seed: UInt64) {
        self.crew = crew
        self.token = token
        random = SeededGenerator(seed: seed ^ 0x600D_5EED)
    }

    /// Registers and publishes one request; returns its correlation.
    @discardableResult
    mutating func send(device: Int, phase: GoodRequest.Phase) -> String {
        let sequence = self.sequence
        self.sequence += 1
        let id = crew.targets.goodDevices[device]
        let correlation = "\(token).g\(device).\(sequence)"
        let operation = phase == .storm && (sequence / crew.goodClients.count) % 2 == 1 ? "telemetry.summary" : "echo"
        let payload: Data
        let expectation: GoodRequest.Expectation
        if operation == "echo" {
            var bytes = [UInt8](repeating: 0, count: Int.random(in: 1...512, using: &random))
            for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &random) }
            payload = Data(bytes)
            expectation = .echo(payload)
        } else {
            let readings = (0..<Int.random(in: 1...24, using: &random)).map { _ in Double(Int.random(in: -400...900, using: &random)) / 10 }
            let sensor = "g\(device)"
            payload = Data("{\"sensor\":\"\(sensor)\",\"readings\":[\(readings.map { "\($0)" }.joined(separator: ","))]}".utf8)
            expectation = .summary(sensor: sensor, readings: readings)
        }
        let client = crew.goodClients[device]
        let topic: String
        let replyTopic: String
        var properties = MQTTProperties()
        let topics = Topics()
        if client.configuration.protocolVersion == .v5 {
            topic = topics.requestTopic(device: id, operation: operation)
            replyTopic = topics.replyNamespace(id) + "/\(operation)"
            properties.responseTopic = replyTopic
            properties.correlationData = Data(correlation.utf8)
            properties.contentType = operation == "echo" ? "application/octet-stream" : "application/json"
        } else {
            topic = topics.requestTopic(device: id, operation: operation, requestId: correlation)
            replyTopic = topics.legacyReplyTopic(device: id, operation: operation, requestId: correlation, status: 200)
        }
        let ledger = crew.ledger
        ledger.register(
            GoodRequest(device: device, operation: operation, correlation: correlation, replyTopic: replyTopic, expectation: expectation, phase: phase, sentAt: .now)
        )
        client.publish(topic, payload: payload, qos: .atLeastOnce, properties: properties) { result in
            switch result {
            case .success(let ack) where ack.reasonCode >= 0x80 || ack.reasonCode == PublishAck.noMatchingSubscribers:
                ledger.publishFailed(correlation, error: MQTTError.library(code: ack.reasonCode, message: "PUBACK reason \(ack.reasonCode)"))
            case .success:
                break
            case .failure(let error):
                ledger.publishFailed(correlation, error: error)
            }
        }
        return correlation
    }
}

/// Hostile publishes in flight: taken before each, given back when it completes.
final class Permits: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let total: Int
    private let state: Mutex<State>

    init(_ count: Int) {
        total = count
        state = Mutex(State(available: count))
    }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func release() {
        let (next, drained): (CheckedContinuation<Void, Never>?, [CheckedContinuation<Void, Never>]) = state.withLock { state in
            if !state.waiters.isEmpty { return (state.waiters.removeFirst(), []) }
            state.available += 1
            guard state.available == total else { return (nil, []) }
            defer { state.drainWaiters = [] }
            return (nil, state.drainWaiters)
        }
        next?.resume()
        for waiter in drained { waiter.resume() }
    }

    /// Waits until every permit is back, or the deadline.
    func waitUntilAllReturned(until deadline: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let done = self.state.withLock { state in
                        if state.available == self.total { return true }
                        state.drainWaiters.append(continuation)
                        return false
                    }
                    if done { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            await group.next()
            // Past the deadline: release the waiter, whatever is still in flight.
            let waiters = state.withLock { state in
                defer { state.drainWaiters = [] }
                return state.drainWaiters
            }
            for waiter in waiters { waiter.resume() }
            group.cancelAll()
        }
    }
}
