import ArgumentParser
import CourierDevices
import CourierTesting
import Foundation

/// `courier-bench soak`: `courier serve` under an open-loop load (`courier devices`) at half of
/// the capacity it shows in the same run, for a long time, with its RSS sampled: memory must
/// stay flat.
struct SoakBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "courier serve at half its measured capacity for --minutes, RSS sampled every --every seconds."
    )

    @Option(help: "How long the soak runs.")
    var minutes = 30

    @Option(help: "Seconds between RSS lines.")
    var every = 60

    @Option(help: "Simulated devices.")
    var devices = 50

    @Option(help: "Requests/s of the soak; by default half of what a closed-loop run measures first.")
    var rate: Double?

    func run() async throws {
        let binary = try CourierDaemon.requireBinary()
        try await StopOnSignal.listening { signals in
            try await withBroker { broker in
                try await signals.whileRunning(stop: { await broker.stop() }) {
                    try await soak(broker: broker, binary: binary, signals: signals)
                }
            }
        }
    }

    private func soak(broker: MosquittoBroker, binary: String, signals: StopOnSignal) async throws {
        BenchReport.printHeader(broker: BenchBroker(url: broker.url, isPrivate: true), details: [("courier", binary)])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-bench-soak-\(UUID().uuidString)")
        let config = try writeCourierConfig(in: directory, broker: broker, limits: "  maxPendingPerDevice: 1000")
        let serve = try await CourierDaemon.start(["serve", "--config", config], readyLine: "bridge started", directory: directory)
        try await signals.whileRunning(stop: { await serve.stop() }) {
            let target: Double
            if let rate {
                target = rate
            } else {
                BenchReport.progress("measuring capacity: closed loop, \(devices) devices × 4 outstanding, 15 s")
                let capacity = try await load(.closed(outstanding: 4), .seconds(15)).run(broker: broker.url, in: directory, signals: signals)
                BenchReport.output(String(format: "capacity: %.0f req/s closed loop (p50 %.2f ms, p99 %.2f ms)", capacity.requestsPerSecond, capacity.latency.p50, capacity.latency.p99))
                target = (capacity.requestsPerSecond / 2).rounded()
            }
            let baseline = ResidentMemory.bytes(pid: serve.pid) ?? 0
            BenchReport.output("soak:     \(Int(target)) req/s open loop for \(minutes) min; serve RSS \(baseline / 1_048_576) MB before")
            BenchReport.output("minute  rss MB  replies/s  p50 ms  p99 ms  sent")
            var samples: [Int] = []
            let openLoop = load(.rate(requestsPerSecond: target), .seconds(Int64(minutes) * 60))
            let report = try await openLoop.run(broker: broker.url, in: directory, signals: signals, progressEvery: .seconds(every)) { progress in
                guard progress.phase == .running else { return }
                let rss = ResidentMemory.bytes(pid: serve.pid) ?? 0
                samples.append(rss)
                BenchReport.output(
                    String(format: "%6.1f  %6d  %9.0f  %6.2f  %6.2f  %d", progress.seconds / 60, rss / 1_048_576, progress.recentRate,
                           progress.recentLatency.p50, progress.recentLatency.p99, progress.sent)
                )
            }
            for line in report.summary.split(separator: "\n") { BenchReport.output(String(line)) }
            BenchReport.output(Self.flatness(samples))
            BenchReport.output("serve:    \(serve.isRunning ? "running" : "exited") after the soak")
        }
        _ = await serve.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Whether RSS stayed flat: the last quarter's mean against the second quarter's (after
    /// warm-up).
    static func flatness(_ values: [Int]) -> String {
        guard values.count >= 4 else { return "rss:      too few samples (\(values.count))" }
        let quarter = values.count / 4
        func meanMB(_ slice: ArraySlice<Int>) -> Double { Double(slice.reduce(0, +)) / Double(slice.count) / 1_048_576 }
        let second = meanMB(values[quarter..<(2 * quarter)])
        let last = meanMB(values[(values.count - quarter)...])
        return String(
            format: "rss:      min %.1f MB, max %.1f MB; mean %.1f MB in the second quarter, %.1f MB in the last (%+.1f MB)",
            Double(values.min() ?? 0) / 1_048_576, Double(values.max() ?? 0) / 1_048_576, second, last, last - second
        )
    }

    private func load(_ mode: DeviceProfile.Mode, _ duration: Duration) -> DeviceLoad {
        DeviceLoad(devices: devices, mode: mode, length: .duration(duration), timeout: .seconds(10), idPrefix: "soak")
    }
}
