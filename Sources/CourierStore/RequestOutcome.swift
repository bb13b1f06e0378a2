/// The outcome of one finished request, for live statistics.
public struct RequestOutcome: Sendable, Equatable {
    public var status: Int
    /// From receipt to the final reply.
    public var milliseconds: Int64

    public init(status: Int, milliseconds: Int64) {
        self.status = status
        self.milliseconds = milliseconds
    }
}
