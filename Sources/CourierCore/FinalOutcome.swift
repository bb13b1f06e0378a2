/// One final outcome for the store.
package struct FinalOutcome: Sendable, Equatable {
    /// The record's bridge id.
    package var id: String
    /// The final state to move to.
    package var state: RequestState
    package var reply: StoredReply
    /// The pending states the record may be in for the outcome to apply (compare-and-set):
    /// a final outcome ends a pending request, never changes one that has ended.
    package var onlyFrom: [RequestState]
    /// Nothing to publish: `deliveredAt` is set at once.
    package var delivered: Bool

    package init(id: String, state: RequestState, reply: StoredReply, onlyFrom: [RequestState] = RequestState.pending, delivered: Bool = false) {
        self.id = id
        self.state = state
        self.reply = reply
        self.onlyFrom = onlyFrom
        self.delivered = delivered
    }
}
