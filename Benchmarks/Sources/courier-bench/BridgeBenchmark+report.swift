import Foundation

extension BridgeBenchmark {
    /// Prints the figures of every system: closed loop against the floors, open loop, CPU time,
    /// errors, Courier's logs and the correctness verdict.
    func report(_ results: [SystemResult], counters: ReplyLedger.Counters) {
        guard let baseline = results.first else { return }
        /// Milliseconds, or a dash when the run had no good reply to time.
        func ms(_ run: LoadResult, _ value: Duration) -> String {
            run.latency.count == 0 ? "-" : value.milliseconds.text(2)
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
                ms(result.closed, result.closed.latency.p50),
                ms(result.closed, result.closed.latency.p99),
                ms(result.closed, result.closed.latency.max),
                "\(result.closed.tally.ok)",
                "\(result.closed.tally.errors)",
                "\(result.closed.mismatches.total)",
                "\(result.closed.duplicates.total)",
                ratio.text(2) + "x",
                floor
            )
        }
        BenchReport.output(closed)
        BenchReport.output("requests/s: good replies (status 200, payload and correlation data checked) per second, first send to last reply")
        BenchReport.output("errors: non-200 status, no reply within \(timeout), or refused by the broker")
        BenchReport.output("mismatches: replies with the wrong payload, device or status, or unknown correlation data; duplicates: second replies")
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
                ms(result.open, result.open.latency.p50),
                ms(result.open, result.open.latency.p99),
                ms(result.open, result.open.latency.max),
                "\(result.open.tally.ok)",
                "\(result.open.tally.errors)",
                "\(result.open.mismatches.total)",
                "\(result.open.duplicates.total)"
            )
        }
        BenchReport.output(open)
        BenchReport.output("latency from the moment each request was due, so a sender that falls behind shows in it;")
        BenchReport.output("replies: status 200 with the request's payload; errors as above; vs own capacity: sent/s over the")
        BenchReport.output("system's closed-loop requests/s (above 1x the system is saturated and its queue grows for the whole run)")
        BenchReport.output()

        let cores = ProcessInfo.processInfo.activeProcessorCount
        BenchReport.output("CPU seconds used during each closed-loop run (\(cores) cores × \(duration) available)")
        let names = ["courier-bench", "mosquitto", "courier serve", "courier bridge", "courier worker"]
        var cpu = TextTable("system", "courier-bench", "mosquitto", "courier", "worker", "total", "per 1000 replies")
        for result in results {
            let used = Dictionary(result.closed.cpu.map { ($0.name, $0.seconds) }, uniquingKeysWith: +)
            let total = used.values.reduce(0, +)
            func cell(_ name: String...) -> String {
                let values = name.compactMap { used[$0] }
                return values.isEmpty ? "-" : values.reduce(0, +).text(2)
            }
            cpu.add(
                result.system.name,
                cell(names[0]),
                cell(names[1]),
                cell(names[2], names[3]),
                cell(names[4]),
                total.text(2),
                (total / Double(max(result.closed.tally.ok, 1)) * 1000).text(3)
            )
        }
        BenchReport.output(cpu)
        BenchReport.output("courier-bench includes the \(devices) device clients and, for the baseline, the responder")

        let errorLines = results.flatMap { result in
            [("closed", result.closed), ("open", result.open)].compactMap { kind, run in
                run.tally.errorSummary.isEmpty ? nil : "  \(result.system.name), \(kind) loop: \(run.tally.errorSummary)"
            }
        }
        let lateLines = results.flatMap { result in
            [("closed", result.closed), ("open", result.open)].compactMap { kind, run in
                run.lateReplies == 0 ? nil : "  \(result.system.name), \(kind) loop: \(run.lateReplies) replies after the timeout"
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
        let mismatches = counters.mismatches, duplicates = counters.duplicates
        let banner = String(repeating: "!", count: 78)
        if mismatches.total == 0 {
            BenchReport.output("Correctness: every reply matched its request (device, Correlation Data, payload, status), warm-ups included")
        } else {
            BenchReport.output(banner)
            BenchReport.output("!!! CORRECTNESS FAILURE: \(mismatches.total) replies did not match their requests (warm-ups included)")
            BenchReport.output("!!! \(mismatches.summary)")
            for example in counters.examples { BenchReport.output("!!! e.g. \(example)") }
            BenchReport.output(banner)
        }
        if duplicates.total == 0 {
            BenchReport.output("Exactly one reply per request: no duplicates, warm-ups included")
        } else {
            BenchReport.output(banner)
            BenchReport.output("!!! DUPLICATE REPLIES: \(duplicates.total) requests were answered more than once (warm-ups included;")
            BenchReport.output("!!! the contract says exactly one final reply): \(duplicates.identical) identical, \(duplicates.different) with a different result")
            for example in counters.duplicateExamples { BenchReport.output("!!! e.g. \(example)") }
            BenchReport.output(banner)
        }
    }
}
