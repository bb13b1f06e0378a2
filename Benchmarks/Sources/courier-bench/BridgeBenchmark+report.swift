import CourierDevices
import Foundation

extension BridgeBenchmark {
    /// Prints the figures of every system: closed loop against the floors, open loop, CPU time,
    /// errors, Courier's logs and the correctness verdict.
    func report(_ results: [SystemResult], verdict: Verdict) {
        guard let baseline = results.first else { return }
        /// Milliseconds, or a dash when the run had no good reply to time.
        func ms(_ run: MeasuredRun, _ value: KeyPath<LatencySummary, Double>) -> String {
            run.report.latency.count == 0 ? "-" : run.report.latency[keyPath: value].text(2)
        }
        let baselineRate = baseline.closed.rate

        BenchReport.output("Closed loop: \(devices) devices × \(outstanding) outstanding = \(devices * outstanding) requests in flight, \(duration) per run")
        var closed = TextTable("system", "requests/s", "p50 ms", "p99 ms", "max ms", "replies", "errors", "mismatches", "duplicates", "vs baseline", "floor")
        for result in results {
            let ratio = result.closed.rate / baselineRate
            let floor = result.system.floor.map { ">= \($0.text(2))x " + (ratio >= $0 ? "PASS" : "BELOW") } ?? ""
            closed.add(
                result.system.name,
                result.closed.rate.text(0),
                ms(result.closed, \.p50),
                ms(result.closed, \.p99),
                ms(result.closed, \.max),
                "\(result.closed.good)",
                "\(result.closed.errors)",
                "\(result.closed.mismatches)",
                "\(result.closed.report.duplicates)",
                ratio.text(2) + "x",
                floor
            )
        }
        BenchReport.output(closed)
        BenchReport.output("requests/s: good replies (status 200, payload and correlation data checked) per second, first send to last reply")
        BenchReport.output("errors: another status, no reply within \(timeout), or a publish that failed or that the broker refused")
        BenchReport.output("mismatches: replies on the wrong device's topic, with the wrong payload or unknown correlation data; duplicates: second replies")
        BenchReport.output()

        let openRate = baseline.openRate
        let which = self.openRate == nil ? "half the baseline's capacity" : "the rate asked for"
        BenchReport.output("Open loop at \(which): \(openRate.text(0)) requests/s spread over \(devices) devices, \(duration) per run")
        var open = TextTable("system", "sent/s", "vs own capacity", "p50 ms", "p99 ms", "max ms", "replies", "errors", "mismatches", "duplicates")
        for result in results {
            open.add(
                result.system.name,
                result.open.sendRate.text(0),
                (result.open.sendRate / result.closed.rate).text(2) + "x",
                ms(result.open, \.p50),
                ms(result.open, \.p99),
                ms(result.open, \.max),
                "\(result.open.good)",
                "\(result.open.errors)",
                "\(result.open.mismatches)",
                "\(result.open.report.duplicates)"
            )
        }
        BenchReport.output(open)
        BenchReport.output("latency from the moment each request was due, so a sender that falls behind shows in it;")
        BenchReport.output("replies: status 200 with the request's payload; errors as above; vs own capacity: sent/s over the")
        BenchReport.output("system's closed-loop requests/s (above 1x the system is saturated and its queue grows for the whole run)")
        BenchReport.output()

        let cores = ProcessInfo.processInfo.activeProcessorCount
        BenchReport.output("CPU seconds used during each closed-loop run (\(cores) cores × \(duration) available)")
        var cpu = TextTable("system", "courier devices", "mosquitto", "responder", "worker", "total", "per 1000 replies", "responder + worker per 1000")
        for result in results {
            let used = Dictionary(result.closed.cpu.map { ($0.name, $0.seconds) }, uniquingKeysWith: +)
            let total = used.values.reduce(0, +)
            let responder = ["echo responder", "courier serve", "courier bridge"].compactMap { used[$0] }.reduce(0, +)
            let worker = used["courier worker"]
            let perThousand = 1000 / Double(max(result.closed.good, 1))
            cpu.add(
                result.system.name,
                used["courier devices"].map { $0.text(2) } ?? "-",
                used["mosquitto"].map { $0.text(2) } ?? "-",
                responder.text(2),
                worker.map { $0.text(2) } ?? "-",
                total.text(2),
                (total * perThousand).text(3),
                ((responder + (worker ?? 0)) * perThousand).text(3)
            )
        }
        BenchReport.output(cpu)
        BenchReport.output("courier devices: the \(devices) device clients, in a process of their own; responder: the C echo responder,")
        BenchReport.output("courier serve or courier bridge; per 1000 replies: CPU seconds per 1000 good replies, i.e. ms per request")

        let errorLines = results.flatMap { result in
            [("closed", result.closed), ("open", result.open)].compactMap { kind, run in
                run.errorSummary.isEmpty ? nil : "  \(result.system.name), \(kind) loop: \(run.errorSummary)"
            }
        }
        let lateLines = results.flatMap { result in
            [("closed", result.closed), ("open", result.open)].compactMap { kind, run in
                run.report.late == 0 ? nil : "  \(result.system.name), \(kind) loop: \(run.report.late) replies after the timeout"
            }
        }
        if !errorLines.isEmpty || !lateLines.isEmpty {
            BenchReport.output()
            BenchReport.output("Errors")
            for line in errorLines + lateLines { BenchReport.output(line) }
        }

        let logs = results.flatMap(\.logs)
        if !logs.isEmpty {
            BenchReport.output()
            BenchReport.output("Courier logs")
            for log in logs {
                BenchReport.output("  " + log.summary)
                for sample in log.samples { BenchReport.output("    " + sample) }
            }
        }

        BenchReport.output()
        let banner = String(repeating: "!", count: 78)
        if verdict.mismatches == 0 {
            BenchReport.output("Correctness: every reply matched its request (device, Correlation Data, payload, status), warm-ups included")
        } else {
            BenchReport.output(banner)
            BenchReport.output("!!! CORRECTNESS FAILURE: \(verdict.mismatches) replies did not match their requests (warm-ups included)")
            for example in verdict.mismatchExamples { BenchReport.output("!!! e.g. \(example)") }
            BenchReport.output(banner)
        }
        if verdict.duplicates == 0 {
            BenchReport.output("Exactly one reply per request: no duplicates, warm-ups included")
        } else {
            BenchReport.output(banner)
            BenchReport.output("!!! DUPLICATE REPLIES: \(verdict.duplicates) second replies to requests already answered (warm-ups")
            BenchReport.output("!!! included; the contract says exactly one final reply)")
            for example in verdict.duplicateExamples { BenchReport.output("!!! e.g. \(example)") }
            BenchReport.output(banner)
        }
    }
}
