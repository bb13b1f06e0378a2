import CourierCore

/// Work the bridge does off the network thread. The store is the source of truth: a job that
/// is dropped because the queue is full is found again by the timer scan or the delivery sweep.
enum BridgeJob: Sendable {
    /// Start the next attempt of a request waiting in state `received`.
    case dispatch(RequestRecord)
    /// Send an attempt already recorded as started (a new request is stored as attempt 1).
    case send(RequestRecord)
    /// Publish a reply; `recordID` is marked delivered on PUBACK when the reply is final.
    case publish(DeviceReply, recordID: String?)
    /// Publish a dead letter.
    case deadLetter(RequestRecord)
}
