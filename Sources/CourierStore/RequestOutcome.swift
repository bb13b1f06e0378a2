/// The outcome of one finished request, for live statistics.
package struct RequestOutcome: Sendable, Equatable {
    package var status: Int
    /// From receipt to the final reply.
    package var milliseconds: Int64

    package init(status: Int, milliseconds: Int64) {
        self.status = status
        self.milliseconds = milliseconds
    }
}
