import CoreMetrics
import Prometheus
import Synchronization

/// swift-metrics bootstrapped once per process with a Prometheus factory, so that every metric
/// the bridge records shows on `GET /metrics`.
package enum PrometheusMetrics {
    private static let registry = Mutex<PrometheusCollectorRegistry?>(nil)

    /// The registry behind the process's metrics factory: on the first call, bootstraps
    /// swift-metrics with a `PrometheusMetricsFactory` over a new registry (unless the process
    /// already uses one, whose registry is returned). Safe to call more than once, from any
    /// thread; bootstrap before creating the objects that record metrics.
    package static func bootstrap() -> PrometheusCollectorRegistry {
        registry.withLock { registry in
            if let registry { return registry }
            let chosen: PrometheusCollectorRegistry
            if let existing = MetricsSystem.factory as? PrometheusMetricsFactory {
                chosen = existing.registry
            } else {
                chosen = PrometheusCollectorRegistry()
                var factory = PrometheusMetricsFactory(registry: chosen)
                factory.durationHistogramBuckets = durationBuckets
                MetricsSystem.bootstrap(factory)
            }
            registry = chosen
            return chosen
        }
    }

    /// Histogram buckets for timers whose values sit below the library's default first bucket
    /// (5 ms): store writes take tens to hundreds of microseconds, replies a few milliseconds.
    static let durationBuckets: [String: [Duration]] = [
        "courier_store_write_seconds": [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .seconds(1),
        ],
        "courier_request_duration_seconds": [
            .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ],
    ]
}
