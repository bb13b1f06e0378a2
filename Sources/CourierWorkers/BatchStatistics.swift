/// Count, extremes, mean and population standard deviation of a batch of readings, computed in
/// two passes on values scaled by a power of two, so that any finite readings give finite,
/// accurate results (no overflow of the sum or the squares) and scaling itself is exact.
struct BatchStatistics: Sendable, Equatable {
    let count: Int
    let min: Double
    let max: Double
    let mean: Double
    /// Population standard deviation: the root of the mean squared deviation.
    let stddev: Double

    private let scale: Double
    private let scaledMean: Double
    private let scaledStddev: Double

    /// Statistics of `values`, which must be non-empty and finite.
    init(_ values: [Double]) {
        precondition(!values.isEmpty && values.allSatisfy(\.isFinite), "readings are checked by the handler")
        let largest = values.map(\.magnitude).max() ?? 0
        let scale = largest.isNormal ? Double(sign: .plus, exponent: largest.exponent, significand: 1) : 1
        let n = Double(values.count)
        var sum = 0.0
        for value in values { sum += value / scale }
        let scaledMean = sum / n
        var squares = 0.0
        for value in values {
            let deviation = value / scale - scaledMean
            squares += deviation * deviation
        }
        self.count = values.count
        self.min = values.min() ?? 0
        self.max = values.max() ?? 0
        // A batch that does not vary has no spread, however its mean was rounded (the
        // deviations from a mean of 0.1 + 0.1 + 0.1 divided by 3 are not 0).
        let scaledStddev = self.min == self.max ? 0 : (squares / n).squareRoot()
        // Rounding can put the mean a hair outside [min, max] for near-equal readings.
        self.mean = Swift.min(Swift.max(scaledMean * scale, self.min), self.max)
        self.stddev = scaledStddev * scale
        self.scale = scale
        self.scaledMean = scaledMean
        self.scaledStddev = scaledStddev
    }

    /// How many standard deviations `value` lies from the mean; nil when the batch does not vary.
    func zScore(_ value: Double) -> Double? {
        guard scaledStddev > 0 else { return nil }
        return (value / scale - scaledMean) / scaledStddev
    }

    /// Rejects an empty batch or one with a number JSON cannot carry.
    static func validate(_ readings: [Double]) throws(HandlerError) {
        guard !readings.isEmpty else { throw .badRequest("readings must not be empty") }
        if let index = readings.firstIndex(where: { !$0.isFinite }) {
            throw .badRequest("readings[\(index)]: expected a finite number")
        }
    }
}
