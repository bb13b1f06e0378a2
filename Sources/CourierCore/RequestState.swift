/// Where a request is in its life: `received -> dispatched -> completed -> delivered`, or one of
/// the other terminal states.
package enum RequestState: String, Sendable, Codable, CaseIterable {
    /// Recorded by the bridge, not yet handed to a worker.
    case received
    /// Handed to a worker; `attempts` says which attempt.
    case dispatched
    /// A final reply is stored but the device has not acknowledged it yet.
    case completed
    /// The final reply was acknowledged by the broker.
    case delivered
    /// Refused at intake (validation, quota, forbidden response topic).
    case rejected
    /// The deadline passed; the device was answered 504.
    case expired
    /// Dead-lettered after a worker failure.
    case failed
    /// Cancelled by an operator; the device was answered 410.
    case cancelled

    /// States in which the request still counts against quotas and timers.
    package static let pending: [RequestState] = [.received, .dispatched]

    /// True once nothing more will happen to the request but its final reply's delivery.
    package var isFinal: Bool { !Self.pending.contains(self) }

    /// True for states that are kept as dead letters.
    package var isDeadLetter: Bool { self == .failed || self == .rejected }
}
