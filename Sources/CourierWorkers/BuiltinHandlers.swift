/// The handlers the worker daemon ships: `echo`, `telemetry.summary`, `telemetry.anomalies`.
public enum BuiltinHandlers {
    public static var all: [any OperationHandler] {
        [EchoHandler(), TelemetrySummaryHandler(), TelemetryAnomaliesHandler()]
    }
}
