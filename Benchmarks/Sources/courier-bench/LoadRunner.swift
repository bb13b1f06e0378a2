import CourierDevices
import CourierTesting
import Foundation

/// Runs the `courier devices` loads of `courier-bench bridge` against one system, and reads
/// the CPU time of the processes involved.
struct LoadRunner: Sendable {
    let broker: MosquittoBroker
    let directory: URL
    let signals: StopOnSignal
    let devices: Int
    let timeout: Duration

    /// Runs `mode` for `duration`; the CPU time of `processes` is read before and after.
    func run(_ mode: DeviceProfile.Mode, for duration: Duration, watching processes: [(name: String, pid: Int32)]) async throws -> MeasuredRun {
        let load = DeviceLoad(devices: devices, mode: mode, length: .duration(duration), timeout: timeout)
        let before = processes.map { ProcessCPU.seconds(pid: $0.pid) }
        let report = try await load.run(broker: broker.url, in: directory, signals: signals)
        let after = processes.map { ProcessCPU.seconds(pid: $0.pid) }
        let cpu = processes.indices.map { (processes[$0].name, (after[$0] ?? 0) - (before[$0] ?? 0)) }
        return MeasuredRun(report: report, cpu: [("courier devices", report.cpuSeconds)] + cpu)
    }

    /// Sends single requests until one gets a good reply: a bridge answers 503 until it has
    /// seen the worker's presence.
    func waitUntilAnswering(_ system: SystemUnderTest) async throws {
        let probe = DeviceLoad(devices: 1, mode: .closed(outstanding: 1), length: .requestsPerDevice(1), timeout: .seconds(5), idPrefix: "probe")
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let report = try await probe.run(broker: broker.url, in: directory, signals: signals)
            if report.isClean { return }
            guard ContinuousClock.now < deadline else {
                throw FixtureError.timeout("\(system.name) answering a request (last replies \(report.replies), \(report.timeouts) timeouts)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// One timed `courier devices` run, and the CPU time each process used meanwhile.
struct MeasuredRun: Sendable {
    let report: SimulatorReport
    /// CPU seconds by process: `courier devices` (as it counted its own), mosquitto, and the
    /// processes of the system under test.
    let cpu: [(name: String, seconds: Double)]

    /// Good replies: status 200 with the request's payload, on the asking device's Response
    /// Topic with its Correlation Data.
    var good: Int { report.replies["200"] ?? 0 }
    /// Good replies per second, from the first send to the last reply.
    var rate: Double { report.seconds > 0 ? Double(good) / report.seconds : 0 }
    /// Requests sent per second while sending: the open loop's offered load.
    var sendRate: Double { report.sendSeconds > 0 ? Double(report.sent) / report.sendSeconds : 0 }
    /// Other statuses, timeouts, and publishes that failed or that the broker refused.
    var errors: Int { report.unexpectedStatus + report.timeouts + report.publishFailures }
    /// Replies that break the contract: the wrong device, operation or payload, or unknown
    /// Correlation Data.
    var mismatches: Int { report.mismatches + report.unmatched }

    /// The errors by kind, e.g. `12 × status 429, 3 timeouts`; empty when there are none.
    var errorSummary: String {
        var parts = report.replies.filter { $0.key != "200" }.sorted { $0.key < $1.key }.map { status, count in
            "\(count) × status \(status == "0" ? "missing" : status)"
        }
        if report.timeouts > 0 { parts.append("\(report.timeouts) timeouts") }
        if report.publishFailures > 0 { parts.append("\(report.publishFailures) publishes failed or refused") }
        return parts.joined(separator: ", ")
    }
}

/// Whether every reply of every run matched its request and came once.
struct Verdict {
    var mismatches = 0
    var duplicates = 0
    /// The first few of each, described.
    var mismatchExamples: [String] = []
    var duplicateExamples: [String] = []

    static let maxExamples = 5

    init(_ reports: [SimulatorReport]) {
        for report in reports {
            mismatches += report.mismatches + report.unmatched
            duplicates += report.duplicates
            mismatchExamples += report.samples.filter { $0.hasPrefix("mismatch") || $0.hasPrefix("unmatched") }
            duplicateExamples += report.samples.filter { $0.hasPrefix("duplicate") }
        }
        mismatchExamples = Array(mismatchExamples.prefix(Self.maxExamples))
        duplicateExamples = Array(duplicateExamples.prefix(Self.maxExamples))
    }
}
