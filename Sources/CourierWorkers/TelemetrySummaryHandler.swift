/// `telemetry.summary`: `{"sensor": "temp", "readings": [21.5, 21.7]}` in,
/// `{"sensor", "count", "min", "max", "mean", "stddev"}` out (population standard deviation).
/// `sensor` is optional and echoed when given; `readings` must hold at least one number.
public struct TelemetrySummaryHandler: JSONOperationHandler {
    public struct Input: Codable, Sendable, Equatable {
        public var sensor: String?
        public var readings: [Double]

        public init(sensor: String? = nil, readings: [Double]) {
            self.sensor = sensor
            self.readings = readings
        }
    }

    public struct Output: Codable, Sendable, Equatable {
        public var sensor: String?
        public var count: Int
        public var min: Double
        public var max: Double
        public var mean: Double
        public var stddev: Double

        public init(sensor: String?, count: Int, min: Double, max: Double, mean: Double, stddev: Double) {
            self.sensor = sensor
            self.count = count
            self.min = min
            self.max = max
            self.mean = mean
            self.stddev = stddev
        }
    }

    public let operation = "telemetry.summary"

    public init() {}

    public func handle(_ input: Input, request: HandlerRequest) async throws -> Output {
        try BatchStatistics.validate(input.readings)
        let stats = BatchStatistics(input.readings)
        return Output(
            sensor: input.sensor,
            count: stats.count,
            min: stats.min,
            max: stats.max,
            mean: stats.mean,
            stddev: stats.stddev
        )
    }
}
