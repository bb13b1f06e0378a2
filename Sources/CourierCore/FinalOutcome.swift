/// One final outcome for the store.
public struct FinalOutcome: Sendable, Equatable {
    /// The record's bridge id.
    public var id: String
    /// The final state to move to.
    public var state: RequestState
    public var reply: StoredReply
    /// The pending states the record may be in for the outcome to apply (compare-and-set):
    /// a final outcome ends a pending request, never changes one that has ended.
    public var onlyFrom: [RequestState]
    /// Nothing to publish: `deliveredAt` is set at once.
    public var delivered: Bool

    public init(id: String, state: RequestState, reply: StoredReply, onlyFrom: [RequestState] = RequestState.pending, delivered: Bool = false) {
        self.id = id
        self.state = state
        self.reply = reply
        self.onlyFrom = onlyFrom
        self.delivered = delivered
    }
}
