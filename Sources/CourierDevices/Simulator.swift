import CourierCore
import Foundation
import Logging
import MQTT
import Synchronization

/// Errors of a simulator run (profile problems are ``ConfigError``s).
package enum SimulatorError: Error, CustomStringConvertible, Equatable {
    case invalidBroker(String)
    /// The process may not open enough files for this many devices.
    case openFileLimit(devices: Int, needed: Int, limit: Int)
    /// Not every device connected in time.
    case connectTimeout(connected: Int, devices: Int, broker: String, within: Duration)
    /// A device's password file is missing or unreadable.
    case missingPassword(device: String, path: String)

    package var description: String {
        switch self {
        case .invalidBroker(let message): message
        case .openFileLimit(let devices, let needed, let limit):
            "\(devices) devices need about \(needed) open files but this process may open \(limit): raise the limit (ulimit -n, or LimitNOFILE for a service) or simulate fewer devices"
        case .connectTimeout(let connected, let devices, let broker, let within):
            "only \(connected) of \(devices) devices connected to \(broker) within \(DurationText.format(within)): is the broker up, and does it allow that many connections (max_connections)?"
        case .missingPassword(let device, let path):
            "no password for device \(device): \(path) cannot be read (Scripts/make-dev-secrets.sh \(device) makes it)"
        }
    }
}

/// Simulates a fleet of devices against a broker and a running Courier: connects every device
/// (its own MQTT connection, all driven by one or a few ``MQTTEventLoop``s), sends requests in
/// the profile's mix and pace, checks that each reply reaches the device that asked with its own
/// correlation, and reports what happened.
///
/// ```swift
/// let profile = try DeviceProfile.load(path: "Devices/profiles/thermostat.yaml")
/// let simulator = try Simulator(profile: profile, broker: "mqtt://127.0.0.1:1883", logger: logger)
/// let report = try await simulator.run { print($0.line) }
/// print(report.summary)
/// ```
///
/// Cancelling the task that runs ``run(progress:)`` stops sending at once, releases every
/// waiting request and returns the report so far.
package struct Simulator: Sendable {
    package let profile: DeviceProfile
    package let brokerURL: String
    package let logger: Logger
    /// How often ``run(progress:)`` reports progress.
    package var progressInterval: Duration = .seconds(5)
    /// Devices per event loop; more devices get more loops (up to one per core).
    package var devicesPerLoop = 2500
    /// Broker credentials, the same for every device (the development broker needs none).
    package var username: String?
    package var password: String?
    /// A directory of `{deviceId}.pass` files (as `Scripts/make-dev-secrets.sh` makes them):
    /// when set, each device logs in as its own id with its own password, as the secure
    /// broker's ACL requires, instead of ``username`` and ``password``.
    package var passwordDirectory: String?
    /// CA file for `mqtts://` brokers.
    package var caFile: String?
    /// The topic layout the devices use (a configuration's `topics:`).
    package var topics = Topics()

    /// - Parameters:
    ///   - profile: what the devices do.
    ///   - url: `mqtt://HOST:PORT` or `mqtts://HOST:PORT`.
    ///   - override: a device count that replaces the profile's.
    ///   - logger: for the simulator's own messages; device connections log errors only (a
    ///     broker restart would otherwise log one line per device; reconnects are counted in
    ///     the report instead).
    package init(profile: DeviceProfile, broker url: String, count override: Int? = nil, logger: Logger) throws {
        var profile = profile
        if let override {
            guard override > 0 else { throw SimulatorError.invalidBroker("the device count must be at least 1") }
            profile.deviceCount = override
        }
        do {
            _ = try MQTTConfiguration(url: url, clientID: "check")
        } catch {
            throw SimulatorError.invalidBroker("\(error)")
        }
        self.profile = profile
        brokerURL = url
        self.logger = logger
    }

    /// Connects the devices, runs the profile, disconnects, and returns the report. `progress`
    /// is called on the calling task: every ``progressInterval`` while connecting and sending.
    package func run(progress: (SimulatorProgress) -> Void) async throws -> SimulatorReport {
        let count = profile.deviceCount
        // Each connected device's descriptors, plus, while they connect, libmosquitto's
        // wake-up pairs, open until a moment after each connect (10,000 devices peaked at
        // about 10,800 descriptors, and then held 10,014).
        let needed = count * MQTTEventLoop.descriptorsPerClient + 2 * min(count, 2048) + 64
        let limit = MQTTEventLoop.raiseOpenFileLimit()
        guard needed <= limit else { throw SimulatorError.openFileLimit(devices: count, needed: needed, limit: limit) }

        let context = RunContext(
            profile: profile,
            topics: topics,
            token: Self.makeToken(),
            maker: RequestMaker(operations: profile.operations),
            stats: RunStats(operations: profile.operations)
        )
        let clock = ContinuousClock()
        let started = clock.now
        let cpuAtStart = Self.processCPUSeconds()
        let loopCount = max(1, min(ProcessInfo.processInfo.activeProcessorCount, (count + devicesPerLoop - 1) / devicesPerLoop))
        let loops = try (0..<loopCount).map { index in try MQTTEventLoop(label: "devices-\(index)", logger: logger) }
        let devices = (0..<count).map { SimulatedDevice(index: $0, context: context) }
        let links = try devices.map { device in
            try makeLink(for: device, on: loops[device.index % loopCount], stats: context.stats)
        }
        logger.info(
            "connecting devices",
            metadata: ["devices.count": "\(count)", "devices.profile": "\(profile.name)", "mqtt.loops": "\(loopCount)", "mqtt.broker": "\(brokerURL)"]
        )
        let reporter = ProgressReporter(context: context, devices: count, started: started, interval: progressInterval)
        do {
            // Connects are not cancellable by themselves: shutting the loops down ends them.
            try await withTaskCancellationHandler {
                try await connect(devices, links, loops: loops, reporter: reporter, progress: progress)
            } onCancel: {
                Task { for loop in loops { await loop.shutdown() } }
            }
        } catch {
            for loop in loops { await loop.shutdown() }
            if Task.isCancelled { throw CancellationError() }
            throw error
        }
        let connected = clock.now
        let ended = await send(devices, links, context: context, reporter: reporter, progress: progress)
        for loop in loops { await loop.shutdown() }
        return report(
            context: context,
            loops: loopCount,
            connectTime: started.duration(to: connected),
            runTime: connected.duration(to: ended),
            sendTime: connected.duration(to: context.stats.state.withLock { $0.lastSent } ?? connected),
            cpuSeconds: Self.processCPUSeconds() - cpuAtStart
        )
    }

    // MARK: Connecting

    /// The device's connection; its messages go to the device, its commands to a
    /// ``CommandResponder`` when the profile has command handlers.
    private func makeLink(for device: SimulatedDevice, on loop: MQTTEventLoop, stats: RunStats) throws -> DeviceLink {
        let takesCommands = !profile.commands.isEmpty
        // A device that takes commands keeps one client id and a persistent session, as a real
        // one does: commands sent while it is offline wait for it at the broker.
        var configuration = try MQTTConfiguration(url: brokerURL, clientID: takesCommands ? device.id : "\(device.id)-\(device.context.token)")
        if takesCommands {
            configuration.cleanStart = false
            configuration.sessionExpiry = 3600
        }
        configuration.protocolVersion = profile.convention == .mqtt5 ? .v5 : .v311
        configuration.eventLoop = loop
        configuration.keepAlive = 60
        configuration.reconnectDelay = 1...5
        if let passwordDirectory {
            let path = URL(fileURLWithPath: passwordDirectory).appendingPathComponent("\(device.id).pass").path
            guard let password = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw SimulatorError.missingPassword(device: device.id, path: path)
            }
            configuration.username = device.id
            configuration.password = password.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            configuration.username = username
            configuration.password = password
        }
        if let caFile { configuration.tls = .init(caFile: caFile) }
        var clientLogger = logger
        clientLogger.logLevel = max(logger.logLevel, .error)
        let link = DeviceLink(configuration: configuration, filters: device.filters, logger: clientLogger, onConnect: { stats.connectedOnce() })
        let topics = self.topics
        let responder = takesCommands ? CommandResponder(device: device.id, profile: profile, topics: topics, stats: stats, link: link) : nil
        link.start { message in
            if let responder, let command = topics.parseCommand(message.topic) {
                responder.receive(message, command)
            } else {
                device.receive(message)
            }
        }
        return link
    }

    /// How many devices connect (and subscribe) at once. A TCP handshake completes before the
    /// broker accepts the connection, so with more at once than the broker's listen backlog
    /// (mosquitto: 100, fixed) its accept queue overflows, and each handshake dropped there
    /// stalls for a retransmission (1 s, then 3 s...): 10,000 devices took 25 s with 256 at
    /// once, 1.2 s with 64.
    static let connectsInFlight = 64

    /// Connects and subscribes every device, a bounded number at a time; fails when they are
    /// not all connected in time.
    private func connect(
        _ devices: [SimulatedDevice],
        _ links: [DeviceLink],
        loops: [MQTTEventLoop],
        reporter: ProgressReporter,
        progress: (SimulatorProgress) -> Void
    ) async throws {
        let limit = Duration.seconds(30) + .milliseconds(10 * devices.count)
        let stats = devices.first?.context.stats
        let broker = brokerURL
        try await withThrowingTaskGroup(of: Bool.self) { group in
            // Gives up on the devices still connecting: shutting the loops down fails them.
            group.addTask {
                do { try await Task.sleep(for: limit) } catch { return false }
                for loop in loops { await loop.shutdown() }
                let connected = stats?.state.withLock { $0.connected } ?? 0
                throw SimulatorError.connectTimeout(connected: connected, devices: devices.count, broker: broker, within: limit)
            }
            var inFlight = 0
            var done = 0
            func collect() async throws {
                if try await group.next() == true { done += 1 }
                inFlight -= 1
                if let line = reporter.due(phase: .connecting) { progress(line) }
            }
            for link in links {
                while inFlight >= Self.connectsInFlight { try await collect() }
                inFlight += 1
                group.addTask {
                    try await link.connect()
                    stats?.deviceReady()
                    return true
                }
            }
            while done < devices.count { try await collect() }
            group.cancelAll()
        }
    }

    // MARK: Sending

    private enum Event: Sendable {
        case sendingDone
        case tick
        case swept
    }

    /// Runs the load until the profile's length is reached, then waits for the outstanding
    /// requests; returns when the last one ended.
    private func send(
        _ devices: [SimulatedDevice],
        _ links: [DeviceLink],
        context: RunContext,
        reporter: ProgressReporter,
        progress: (SimulatorProgress) -> Void
    ) async -> ContinuousClock.Instant {
        let clock = context.clock
        let start = clock.now
        reporter.restart(at: start)
        let sweepEvery = min(Duration.milliseconds(250), max(.milliseconds(10), context.profile.timeout / 10))
        let profile = self.profile
        /// Whether sending has stopped and only the last replies are awaited.
        func isDraining() -> Bool {
            switch profile.length {
            case .duration(let duration): clock.now >= start + duration
            case .requestsPerDevice(let count): context.stats.state.withLock { $0.sent } >= count * profile.deviceCount
            }
        }
        return await withTaskCancellationHandler {
            await withTaskGroup(of: Event.self) { group in
                group.addTask {
                    await Self.load(profile: profile, devices: devices, links: links, start: start)
                    return .sendingDone
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: sweepEvery)
                        let now = clock.now
                        for device in devices { device.expire(now: now) }
                    }
                    return .swept
                }
                let interval = progressInterval
                group.addTask {
                    try? await Task.sleep(for: interval)
                    return .tick
                }
                var sending = true
                while let event = await group.next() {
                    switch event {
                    case .sendingDone:
                        sending = false
                        group.cancelAll()
                    case .tick:
                        // Cancelled, a new tick's sleep would end at once: no more progress.
                        guard sending, !Task.isCancelled else { continue }
                        progress(reporter.snapshot(phase: isDraining() ? .draining : .running))
                        group.addTask {
                            try? await Task.sleep(for: interval)
                            return .tick
                        }
                    case .swept:
                        break
                    }
                }
                return clock.now
            }
        } onCancel: {
            for device in devices { device.abandon() }
        }
    }

    /// Sends requests as the profile's mode and length say; returns when every request sent has
    /// ended (reply, timeout, failure).
    private static func load(profile: DeviceProfile, devices: [SimulatedDevice], links: [DeviceLink], start: ContinuousClock.Instant) async {
        let clock = ContinuousClock()
        let end: ContinuousClock.Instant?
        let perDevice: Int?
        switch profile.length {
        case .duration(let duration): (end, perDevice) = (start + duration, nil)
        case .requestsPerDevice(let count): (end, perDevice) = (nil, count)
        }
        @Sendable func keepGoing() -> Bool { !Task.isCancelled && end.map { clock.now < $0 } ?? true }
        guard !profile.operations.isEmpty else {
            // Devices that only answer commands: connected until the run ends.
            if let end { try? await Task.sleep(until: end, clock: clock) }
            return
        }

        switch profile.mode {
        case .closed(let outstanding):
            await withDiscardingTaskGroup { group in
                for (device, link) in zip(devices, links) {
                    let budget = Budget(perDevice)
                    for _ in 0..<outstanding {
                        group.addTask {
                            while keepGoing(), budget.take() {
                                if await device.request(over: link.client) == .failed {
                                    // No connection: wait for it rather than spin.
                                    try? await Task.sleep(for: .milliseconds(200))
                                }
                            }
                        }
                    }
                }
            }
        case .rate(let perSecond):
            let total = perDevice.map { $0 * devices.count }
            await withDiscardingTaskGroup { group in
                var issued = 0
                while total.map({ issued < $0 }) ?? true {
                    // Request i is due at start + i / rate, from device i mod count, and timed
                    // from then: a sender that falls behind shows in the latency.
                    let due = start + .seconds(Double(issued) / perSecond)
                    if clock.now < due { try? await Task.sleep(until: due, tolerance: .microseconds(50), clock: clock) }
                    guard keepGoing() else { break }
                    let device = devices[issued % devices.count]
                    let link = links[issued % devices.count]
                    issued += 1
                    group.addTask { _ = await device.request(over: link.client, due: due) }
                }
            }
        }
    }

    // MARK: Report

    private func report(
        context: RunContext,
        loops: Int,
        connectTime: Duration,
        runTime: Duration,
        sendTime: Duration,
        cpuSeconds: Double
    ) -> SimulatorReport {
        let state = context.stats.state.withLock { $0 }
        let seconds = Self.seconds(runTime)
        var operations: [String: SimulatorReport.OperationCounts] = [:]
        for (index, operation) in profile.operations.enumerated() {
            var counts = operations[operation.name] ?? SimulatorReport.OperationCounts()
            let these = state.operations[index]
            counts.sent += these.sent
            counts.timeouts += these.timeouts
            counts.expectStatus = these.expectStatus
            counts.replies.merge(these.replies, uniquingKeysWith: +)
            operations[operation.name] = counts
        }
        return SimulatorReport(
            profile: profile.name,
            protocol: profile.convention,
            devices: profile.deviceCount,
            eventLoops: loops,
            seconds: seconds,
            sendSeconds: Self.seconds(sendTime),
            connectSeconds: Self.seconds(connectTime),
            cpuSeconds: cpuSeconds,
            sent: state.sent,
            replies: Dictionary(uniqueKeysWithValues: state.statuses.map { ("\($0.key)", $0.value) }),
            accepted: state.accepted,
            mismatches: state.mismatches,
            unmatched: state.unmatched,
            duplicates: state.duplicates,
            late: state.late,
            timeouts: state.timeouts,
            unexpectedStatus: state.unexpectedStatus,
            publishFailures: state.publishFailures,
            noSubscribers: state.noSubscribers,
            reconnects: max(0, state.connects - profile.deviceCount),
            latency: LatencySummary(microseconds: state.latencies),
            requestsPerSecond: seconds > 0 ? Double(state.finals) / seconds : 0,
            operations: operations,
            samples: state.samples,
            commands: state.commands
        )
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// User plus system CPU seconds this process has used so far.
    static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Seven characters from [a-z0-9]: unique enough to keep two runs' correlations apart.
    static func makeToken() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<7).map { _ in alphabet.randomElement()! })
    }
}

/// How many requests one device may still start (`nil`: no limit), shared by its outstanding
/// slots.
final class Budget: Sendable {
    private let left: Mutex<Int?>

    init(_ count: Int?) { left = Mutex(count) }

    func take() -> Bool {
        left.withLock { left in
            guard let remaining = left else { return true }
            guard remaining > 0 else { return false }
            left = remaining - 1
            return true
        }
    }
}

/// Builds progress snapshots: totals, plus rate and latency since the previous snapshot.
final class ProgressReporter: Sendable {
    private struct State {
        var started: ContinuousClock.Instant
        var lastAt: ContinuousClock.Instant
        var lastFinals = 0
        var lastLatencyIndex = 0
        var nextDue: ContinuousClock.Instant
    }

    private let context: RunContext
    private let devices: Int
    private let runStarted: ContinuousClock.Instant
    private let interval: Duration
    private let state: Mutex<State>

    init(context: RunContext, devices: Int, started: ContinuousClock.Instant, interval: Duration) {
        self.context = context
        self.devices = devices
        runStarted = started
        self.interval = interval
        state = Mutex(State(started: started, lastAt: started, nextDue: started + interval))
    }

    func restart(at instant: ContinuousClock.Instant) {
        state.withLock { state in
            state.lastAt = instant
            state.nextDue = instant + interval
        }
    }

    /// A snapshot when one is due (for loops that have no timer of their own).
    func due(phase: SimulatorProgress.Phase) -> SimulatorProgress? {
        let now = context.clock.now
        guard state.withLock({ now >= $0.nextDue }) else { return nil }
        return snapshot(phase: phase)
    }

    func snapshot(phase: SimulatorProgress.Phase) -> SimulatorProgress {
        let now = context.clock.now
        let stats = context.stats.state.withLock { stats in
            (stats.connected, stats.sent, stats.finals, stats.timeouts, stats.mismatches, stats.publishFailures, stats.abandoned, stats.latencies.count)
        }
        let (connected, sent, finals, timeouts, mismatches, failures, abandoned, latencyCount) = stats
        let (since, previousFinals, fromIndex) = state.withLock { state in
            defer {
                state.lastAt = now
                state.lastFinals = finals
                state.lastLatencyIndex = latencyCount
                state.nextDue = now + interval
            }
            return (state.lastAt, state.lastFinals, state.lastLatencyIndex)
        }
        let recent = context.stats.state.withLock { Array($0.latencies[min(fromIndex, latencyCount)..<latencyCount]) }
        let window = Simulator.seconds(since.duration(to: now))
        return SimulatorProgress(
            phase: phase,
            seconds: Simulator.seconds(runStarted.duration(to: now)),
            devices: devices,
            connected: connected,
            sent: sent,
            replies: finals,
            outstanding: max(0, sent - finals - timeouts - failures - abandoned),
            timeouts: timeouts,
            mismatches: mismatches,
            recentRate: window > 0 ? Double(finals - previousFinals) / window : 0,
            recentLatency: LatencySummary(microseconds: recent)
        )
    }
}
