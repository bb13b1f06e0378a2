import CoreMetrics
import Prometheus
import Synchronization

/// swift-metrics bootstrapped once per process with a Prometheus factory, so that every metric
/// the bridge records shows on `GET /metrics`.
public enum PrometheusMetrics {
    private static let registry = Mutex<PrometheusCollectorRegistry?>(nil)

    /// The registry behind the process's metrics factory: on the first call, bootstraps
    /// swift-metrics with a `PrometheusMetricsFactory` over a new registry (unless the process
    /// already uses one, whose registry is returned). Safe to call more than once, from any
    /// thread; bootstrap before creating the objects that record metrics.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        registry.withLock { registry in
            if let registry { return registry }
            let chosen: PrometheusCollectorRegistry
            if let existing = MetricsSystem.factory as? PrometheusMetricsFactory {
                chosen = existing.registry
            } else {
                chosen = PrometheusCollectorRegistry()
                MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: chosen))
            }
            registry = chosen
            return chosen
        }
    }
}
