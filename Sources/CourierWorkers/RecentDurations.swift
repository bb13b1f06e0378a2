/// What an operation has taken recently: the median of its last few run times, the estimate
/// the pool uses to decide whether an attempt can still finish before its deadline.
///
/// The median, not the mean or a high percentile: one slow run (a cold cache, a stalled
/// dependency) does not turn away the work behind it, and an estimate that runs low only lets
/// through attempts that might have made it.
public struct RecentDurations: Sendable, Equatable {
    /// How many runs are kept.
    public let capacity: Int
    /// How many runs it takes before there is an estimate.
    public let minimumSamples: Int
    private var samples: [Int64] = []
    private var next = 0

    public init(capacity: Int = 16, minimumSamples: Int = 3) {
        precondition(capacity >= 1 && (1...capacity).contains(minimumSamples), "keep at least the runs an estimate needs")
        self.capacity = capacity
        self.minimumSamples = minimumSamples
    }

    /// Adds one run's duration in milliseconds, replacing the oldest once full.
    public mutating func record(milliseconds: Int64) {
        if samples.count < capacity {
            samples.append(milliseconds)
        } else {
            samples[next] = milliseconds
        }
        next = (next + 1) % capacity
    }

    /// The median of the kept runs (the lower middle one for an even count), in milliseconds;
    /// nil until ``minimumSamples`` runs were recorded.
    public var estimate: Int64? {
        guard samples.count >= minimumSamples else { return nil }
        return samples.sorted()[(samples.count - 1) / 2]
    }

    /// Whether an attempt started at `now` (unix ms) is expected to finish by `deadline`: the
    /// deadline has not passed and, once there is an estimate, at least that much time is left.
    public func canFinish(now: Int64, deadline: Int64) -> Bool {
        guard deadline > now else { return false }
        guard let estimate else { return true }
        return deadline - now >= estimate
    }
}
