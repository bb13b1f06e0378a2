import CourierBridge
import Foundation
import ServiceLifecycle

/// Prints a live status line for `courier dev`: requests/s, latency percentiles, pending
/// requests and errors (stored 4xx/5xx outcomes and 429/503 refusals) over the last interval,
/// read from the bridge's store and counters.
struct StatusLine: Service {
    let bridge: Bridge
    let interval: Duration
    let banner: String

    func run() async throws {
        FileHandle.standardOutput.write(Data((banner + "\n").utf8))
        var since = Self.now()
        var refusedBefore = bridge.refusals
        while !Task.isCancelledOrShuttingDown {
            let interval = interval
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            let until = Self.now()
            let outcomes = (try? bridge.store.outcomes(finishedAfter: since)) ?? []
            let refusals = bridge.refusals
            since = until
            let latencies = outcomes.map(\.milliseconds).sorted()
            let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
            let errors = outcomes.filter { $0.status >= 400 }.count + refusals - refusedBefore
            refusedBefore = refusals
            let pending = (try? bridge.store.pendingCount()) ?? 0
            FileHandle.standardOutput.write(Data((
                String(
                    format: "%@  %7.0f req/s  p50 %5@  p99 %5@  pending %5d  errors %d",
                    Self.clock(), Double(outcomes.count) / seconds,
                    Self.percentile(latencies, 0.50), Self.percentile(latencies, 0.99), pending, errors
                ) + "\n").utf8))
        }
    }

    private static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    private static func clock() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: Date())
    }

    private static func percentile(_ sorted: [Int64], _ p: Double) -> String {
        guard !sorted.isEmpty else { return "-" }
        return "\(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))])ms"
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool { isCancelled || isShuttingDownGracefully }
}
