import ArgumentParser
import CourierCore
import CourierWorkers
import Foundation
import Synchronization

/// `courier-bench scheduling`: the in-process worker pool under a mixed overload, earliest
/// deadline first with the feasibility check against first come, first served. No broker and
/// no bridge: handlers sleep for their simulated cost, so the figures isolate scheduling.
///
/// Requests of two kinds arrive at random (Poisson) at a multiple of the pool's capacity:
/// short work with a tight deadline and long work with a loose one. Both policies get the same
/// arrivals (same seed). The figure that matters is how many requests are answered 200 within
/// their deadline.
struct SchedulingBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduling",
        abstract: "Worker pool under mixed overload: earliest-deadline-first with feasibility vs FIFO (in process)."
    )

    @Option(help: "Handlers running at once.")
    var concurrency = 4

    @Option(help: "How long requests arrive, per policy.")
    var duration = BenchDuration(argument: "10s")!

    @Option(help: "Offered load as a multiple of the pool's capacity.")
    var load = 1.5

    @Option(help: "Share of short requests, 0-1.")
    var shortShare = 0.7

    @Option(help: "Short work: cost and deadline in ms.")
    var short = "20,150"

    @Option(help: "Long work: cost and deadline in ms.")
    var long = "100,3000"

    @Option(help: "Seed of the arrivals.")
    var seed: UInt64 = 42

    struct Kind: Sendable {
        let name: String
        let cost: Int64
        let deadline: Int64
    }

    func validate() throws {
        guard concurrency >= 1, load > 0, (0...1).contains(shortShare) else {
            throw ValidationError("need --concurrency >= 1, --load > 0, --short-share in 0...1")
        }
        _ = try kinds()
    }

    func kinds() throws -> (short: Kind, long: Kind) {
        func parse(_ text: String, _ name: String) throws -> Kind {
            let parts = text.split(separator: ",").compactMap { Int64($0) }
            guard parts.count == 2, parts[0] > 0, parts[1] > 0 else { throw ValidationError("--\(name): write COST_MS,DEADLINE_MS") }
            return Kind(name: name, cost: parts[0], deadline: parts[1])
        }
        return (try parse(short, "short"), try parse(long, "long"))
    }

    func run() async throws {
        let (short, long) = try kinds()
        let meanCost = shortShare * Double(short.cost) + (1 - shortShare) * Double(long.cost)
        let capacity = Double(concurrency) * 1000 / meanCost
        let rate = load * capacity
        let arrivals = Self.arrivals(rate: rate, duration: duration.duration, shortShare: shortShare, seed: seed)
        BenchReport.output("command:  \(BenchReport.commandLine)")
        BenchReport.output("date:     \(Date().formatted(.iso8601))")
        BenchReport.output("machine:  \(ProcessInfo.processInfo.activeProcessorCount) cores, \(Self.build)")
        BenchReport.output(
            "load:     \(arrivals.count) requests in \(duration) (Poisson, \(rate.text(1))/s = \(load.text(2))x capacity \(capacity.text(1))/s), "
                + "concurrency \(concurrency); short \(short.cost) ms due in \(short.deadline) ms (\(Int(shortShare * 100)) %), "
                + "long \(long.cost) ms due in \(long.deadline) ms")
        BenchReport.output()

        var table = TextTable("policy", "on time", "short on time", "long on time", "late 200", "504 at once", "other")
        for (name, scheduling) in [("FIFO", WorkerPool.Scheduling.arrivalOrder), ("EDF + feasibility", .deadlineAware)] {
            BenchReport.progress("running \(name)")
            let tally = try await Self.measure(scheduling, concurrency: concurrency, arrivals: arrivals, short: short, long: long)
            func share(_ count: Int, of total: Int) -> String { "\(count) (\((100 * Double(count) / Double(max(1, total))).text(1)) %)" }
            table.add(
                name,
                share(tally.onTime["short", default: 0] + tally.onTime["long", default: 0], of: arrivals.count),
                share(tally.onTime["short", default: 0], of: tally.offered["short", default: 0]),
                share(tally.onTime["long", default: 0], of: tally.offered["long", default: 0]),
                "\(tally.late)", "\(tally.turnedAway)", "\(tally.other)")
        }
        BenchReport.output(table)
    }

    private static var build: String {
        #if DEBUG
        "debug build: figures are not representative, use -c release"
        #else
        "release build"
        #endif
    }

    /// When each request arrives (offset from the start) and whether it is short.
    static func arrivals(rate: Double, duration: Duration, shortShare: Double, seed: UInt64) -> [(at: Duration, short: Bool)] {
        var random = SplitMix64(seed: seed)
        var arrivals: [(at: Duration, short: Bool)] = []
        var at = 0.0
        while true {
            at += -log(1 - random.nextUnit()) / rate
            guard at < duration.seconds else { return arrivals }
            arrivals.append((.seconds(at), random.nextUnit() < shortShare))
        }
    }

    struct Tally: Sendable {
        var offered: [String: Int] = [:]
        var onTime: [String: Int] = [:]
        var late = 0
        var turnedAway = 0
        var other = 0
    }

    /// Runs the arrivals against a fresh pool; counts what each request got and when.
    static func measure(
        _ scheduling: WorkerPool.Scheduling, concurrency: Int, arrivals: [(at: Duration, short: Bool)], short: Kind, long: Kind
    ) async throws -> Tally {
        let pool = WorkerPool(
            handlers: [SimulatedWork(operation: short.name, cost: short.cost), SimulatedWork(operation: long.name, cost: long.cost)],
            concurrency: concurrency, scheduling: scheduling)
        let tally = Shared(Tally())
        let start = ContinuousClock.now
        await withDiscardingTaskGroup { group in
            for (index, arrival) in arrivals.enumerated() {
                try? await Task.sleep(until: start + arrival.at)
                let kind = arrival.short ? short : long
                let request = HandlerRequest(
                    requestID: "\(index)", device: "bench", operation: kind.name, deadline: unixMillis() + kind.deadline, payload: Data())
                group.addTask {
                    let response = await pool.perform(request)
                    let finished = unixMillis()
                    tally.update { tally in
                        tally.offered[kind.name, default: 0] += 1
                        switch response.status {
                        case 200 where finished <= request.deadline: tally.onTime[kind.name, default: 0] += 1
                        case 200: tally.late += 1
                        case 504: tally.turnedAway += 1
                        default: tally.other += 1
                        }
                    }
                }
            }
        }
        return tally.value
    }
}

/// A value shared by the tasks of a run.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value { mutex.withLock { $0 } }
    func update<T>(_ change: (inout Value) -> T) -> T { mutex.withLock { change(&$0) } }
}

/// A handler that takes `cost` milliseconds (a sleep: the pool's slots, not the CPU, are the
/// resource).
struct SimulatedWork: OperationHandler {
    let operation: String
    let cost: Int64

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        try await Task.sleep(for: .milliseconds(cost))
        return HandlerResponse(payload: Data())
    }
}

/// A small seeded generator, so that both policies see the same arrivals.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    /// A number in [0, 1).
    mutating func nextUnit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }
}
