import Foundation
import Synchronization

/// What one load run produced: the round-trip time of every good reply and a count of every
/// other outcome.
struct RunTally: Sendable {
    var latencies: [Duration] = []
    /// Replies with a status other than 200, by status.
    var statuses: [Int: Int] = [:]
    var timeouts = 0
    /// Requests the broker refused or had no subscriber for, by PUBACK reason code.
    var undelivered: [Int: Int] = [:]
    /// Requests answered with a mismatching reply (also counted in the ledger's mismatches).
    var mismatched = 0
    var aborted = 0

    var ok: Int { latencies.count }
    /// Non-200 replies, timeouts, undelivered and aborted requests.
    var errors: Int { statuses.values.reduce(0, +) + timeouts + undelivered.values.reduce(0, +) + aborted }
    var requests: Int { ok + errors + mismatched }

    mutating func add(_ outcome: RequestOutcome) {
        switch outcome {
        case .ok(let latency): latencies.append(latency)
        case .status(let status): statuses[status, default: 0] += 1
        case .mismatch: mismatched += 1
        case .timeout: timeouts += 1
        case .undelivered(let reason): undelivered[reason, default: 0] += 1
        case .aborted: aborted += 1
        }
    }

    mutating func merge(_ other: RunTally) {
        latencies += other.latencies
        statuses.merge(other.statuses, uniquingKeysWith: +)
        undelivered.merge(other.undelivered, uniquingKeysWith: +)
        timeouts += other.timeouts
        mismatched += other.mismatched
        aborted += other.aborted
    }

    /// The errors by kind, e.g. `12 × 504, 3 timeouts`; empty when there are none.
    var errorSummary: String {
        var parts = statuses.sorted { $0.key < $1.key }.map { "\($0.value) × status \($0.key)" }
        if timeouts > 0 { parts.append("\(timeouts) timeouts") }
        parts += undelivered.sorted { $0.key < $1.key }.map { "\($0.value) undelivered (PUBACK reason \($0.key))" }
        if aborted > 0 { parts.append("\(aborted) aborted") }
        return parts.joined(separator: ", ")
    }
}

/// The result of one timed run.
struct LoadResult: Sendable {
    let tally: RunTally
    let elapsed: Duration
    /// From the first send to the last (the open loop's offered load); `elapsed` adds the wait
    /// for the last replies.
    let sendElapsed: Duration
    let latency: LatencyStats
    /// Replies that broke the contract during the run, from the ledger.
    let mismatches: ReplyLedger.Mismatches
    let duplicates: ReplyLedger.Duplicates
    let lateReplies: Int
    /// CPU seconds each process used during the run.
    let cpu: [(name: String, seconds: Double)]

    /// Good replies per second.
    var rate: Double { Double(tally.ok) / elapsed.seconds }
    /// Requests sent per second, while sending.
    var sendRate: Double { Double(tally.requests) / sendElapsed.seconds }

    init(
        tally: RunTally,
        elapsed: Duration,
        sendElapsed: Duration,
        counters: (before: ReplyLedger.Counters, after: ReplyLedger.Counters),
        cpu: [(name: String, seconds: Double)]
    ) {
        self.tally = tally
        self.elapsed = elapsed
        self.sendElapsed = sendElapsed
        self.latency = LatencyStats(tally.latencies)
        mismatches = counters.after.mismatches - counters.before.mismatches
        duplicates = counters.after.duplicates - counters.before.duplicates
        lateReplies = counters.after.lateReplies - counters.before.lateReplies
        self.cpu = cpu
    }
}

/// Drives a ``DeviceFleet``: closed loop (each device keeps a fixed number of requests
/// outstanding) or open loop (requests sent at a fixed rate, whatever the replies do).
struct LoadGenerator: Sendable {
    let fleet: DeviceFleet
    /// The processes whose CPU time each run reports.
    let processes: [(name: String, pid: Int32)]

    /// Every device keeps `outstanding` requests in flight until `duration` has passed; each
    /// loop then waits for its last reply. The rate counts from the first send to the last
    /// reply.
    func closedLoop(outstanding: Int, duration: Duration) async throws -> LoadResult {
        try await measured {
            let deadline = ContinuousClock.now + duration
            let tally = try await withThrowingTaskGroup(of: RunTally.self) { group in
                for device in 0..<fleet.count {
                    for _ in 0..<outstanding {
                        group.addTask {
                            var tally = RunTally()
                            while ContinuousClock.now < deadline {
                                tally.add(try await fleet.request(device: device))
                            }
                            return tally
                        }
                    }
                }
                return try await group.reduce(into: RunTally()) { $0.merge($1) }
            }
            return (tally, deadline)
        }
    }

    /// Sends `rate` requests per second for `duration`, request i from device i mod devices at
    /// start + i / rate, each timed from when it was due (so a sender that falls behind shows in
    /// the latency rather than hiding it), then waits for every reply.
    func openLoop(rate: Double, duration: Duration) async throws -> LoadResult {
        try await measured {
            let total = max(1, Int((rate * duration.seconds).rounded()))
            let tally = TallyBox()
            let start = ContinuousClock.now + .milliseconds(5)
            var lastSend = start
            try await withThrowingDiscardingTaskGroup { group in
                for index in 0..<total {
                    let due = start + .seconds(Double(index) / rate)
                    if ContinuousClock.now < due {
                        try await Task.sleep(until: due, tolerance: .microseconds(50), clock: .continuous)
                    }
                    let fleet = fleet
                    lastSend = .now
                    group.addTask {
                        let outcome = try await fleet.request(device: index % fleet.count, start: due)
                        tally.add(outcome)
                    }
                }
            }
            return (tally.value, lastSend)
        }
    }

    /// Runs `run`, which returns its tally and when it sent its last request.
    private func measured(_ run: () async throws -> (RunTally, ContinuousClock.Instant)) async throws -> LoadResult {
        let countersBefore = fleet.ledger.counters
        let cpuBefore = processes.map { ProcessCPU.seconds(pid: $0.pid) }
        let start = ContinuousClock.now
        let (tally, lastSend) = try await run()
        let elapsed = ContinuousClock.now - start
        let cpuAfter = processes.map { ProcessCPU.seconds(pid: $0.pid) }
        let countersAfter = fleet.ledger.counters
        let cpu = processes.indices.map { index in
            (processes[index].name, (cpuAfter[index] ?? 0) - (cpuBefore[index] ?? 0))
        }
        return LoadResult(
            tally: tally,
            elapsed: elapsed,
            sendElapsed: min(lastSend, start + elapsed) - start,
            counters: (countersBefore, countersAfter),
            cpu: cpu
        )
    }
}

/// A tally shared by the tasks of an open-loop run.
private final class TallyBox: Sendable {
    private let tally = Mutex(RunTally())

    func add(_ outcome: RequestOutcome) {
        tally.withLock { $0.add(outcome) }
    }

    var value: RunTally { tally.withLock { $0 } }
}
