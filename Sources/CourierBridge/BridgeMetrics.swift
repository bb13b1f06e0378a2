import CourierCore
import CourierEngine
import Metrics
import Synchronization

/// The bridge's metrics, created once; labels are fixed sets (operation, status, reason),
/// never request ids.
struct BridgeMetrics: Sendable {
    let duplicates = Counter(label: "courier_duplicates_total")
    let retries = Counter(label: "courier_retries_total")
    let deadLetters = Counter(label: "courier_deadletters_total")
    let ignoredWorkerReplies = Counter(label: "courier_worker_replies_ignored_total")
    /// Devices' cancels that named no pending request of theirs.
    let ignoredCancels = Counter(label: "courier_cancels_ignored_total")
    /// Devices' answers that named no command of theirs (another device's, unknown).
    let ignoredCommandReplies = Counter(label: "courier_command_replies_ignored_total")
    /// Publishes not made because too many were in flight (left to the sweep or timers).
    let deferred = Counter(label: "courier_publishes_deferred_total")
    /// Final replies given up because no broker could ever take them (too large, malformed).
    let undeliverable = Counter(label: "courier_replies_undeliverable_total")
    /// Lapsed bridges whose requests this bridge took over (shared store).
    let takeovers = Counter(label: "courier_takeovers_total")
    /// 1 while the store answers, 0 after a failed write or lease renewal.
    let storeReachable = Gauge(label: "courier_store_reachable")
    let pending = Gauge(label: "courier_pending_requests")
    let brokerConnected = Gauge(label: "courier_broker_connected")
    let storeWrite = Timer(label: "courier_store_write_seconds")

    private let requests = MetricCache<Counter>()
    private let latencies = MetricCache<Timer>()
    private let rejections = MetricCache<Counter>()

    /// Records one of the engine's counts.
    func count(_ count: Count) {
        switch count {
        case .request(let operation, let status): request(operation: operation, status: status)
        case .latency(let operation, let milliseconds): latency(operation: operation, milliseconds: milliseconds)
        case .rejection(let reason): rejection(reason)
        case .refusal: break  // in courier_rejections_total already
        case .duplicate: duplicates.increment()
        case .retry: retries.increment()
        case .deadLetter: deadLetters.increment()
        case .ignoredWorkerReply: ignoredWorkerReplies.increment()
        case .ignoredCancel: ignoredCancels.increment()
        case .ignoredCommandReply: ignoredCommandReplies.increment()
        case .undeliverable: undeliverable.increment()
        }
    }

    private func request(operation: String, status: Int) {
        requests.get("\(operation) \(status)") {
            Counter(label: "courier_requests_total", dimensions: [("operation", operation), ("status", "\(status)")])
        }.increment()
    }

    private func latency(operation: String, milliseconds: Int64) {
        latencies.get(operation) {
            Timer(label: "courier_request_duration_seconds", dimensions: [("operation", operation)])
        }.recordMilliseconds(milliseconds)
    }

    /// Records the time a store write took, from `start` to now.
    func storeWrite(since start: ContinuousClock.Instant) {
        let elapsed = (ContinuousClock.now - start).components
        storeWrite.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }

    private func rejection(_ reason: String) {
        rejections.get(reason) { Counter(label: "courier_rejections_total", dimensions: [("reason", reason)]) }.increment()
    }
}

/// Metric objects by their label values, made once: the label sets are small and fixed
/// (configured operations, contract statuses, rejection reasons).
final class MetricCache<Metric: Sendable>: Sendable {
    private let metrics = Mutex<[String: Metric]>([:])

    func get(_ key: String, make: () -> Metric) -> Metric {
        metrics.withLock { metrics in
            if let metric = metrics[key] { return metric }
            let metric = make()
            metrics[key] = metric
            return metric
        }
    }
}
