/// `telemetry.anomalies`: `{"readings": [...], "threshold": 3.0}` in,
/// `{"anomalies": [{"index": i, "value": v, "z": z}, ...]}` out.
///
/// Each reading's z-score is taken against the batch itself (its mean and population standard
/// deviation); a reading is an anomaly when `|z| > threshold`. `threshold` is optional (3.0) and
/// must be greater than 0. A batch that does not vary has no anomalies.
public struct TelemetryAnomaliesHandler: JSONOperationHandler {
    public struct Input: Codable, Sendable, Equatable {
        public var readings: [Double]
        public var threshold: Double?

        public init(readings: [Double], threshold: Double? = nil) {
            self.readings = readings
            self.threshold = threshold
        }
    }

    public struct Anomaly: Codable, Sendable, Equatable {
        public var index: Int
        public var value: Double
        /// How many standard deviations the value lies from the batch mean (signed).
        public var z: Double

        public init(index: Int, value: Double, z: Double) {
            self.index = index
            self.value = value
            self.z = z
        }
    }

    public struct Output: Codable, Sendable, Equatable {
        public var anomalies: [Anomaly]

        public init(anomalies: [Anomaly]) {
            self.anomalies = anomalies
        }
    }

    public static let defaultThreshold = 3.0

    public let operation = "telemetry.anomalies"

    public init() {}

    public func handle(_ input: Input, request: HandlerRequest) async throws -> Output {
        let threshold = input.threshold ?? Self.defaultThreshold
        guard threshold.isFinite, threshold > 0 else {
            throw HandlerError.badRequest("threshold must be greater than 0")
        }
        try BatchStatistics.validate(input.readings)
        let stats = BatchStatistics(input.readings)
        var anomalies: [Anomaly] = []
        for (index, value) in input.readings.enumerated() {
            if let z = stats.zScore(value), z.magnitude > threshold {
                anomalies.append(Anomaly(index: index, value: value, z: z))
            }
        }
        return Output(anomalies: anomalies)
    }
}
