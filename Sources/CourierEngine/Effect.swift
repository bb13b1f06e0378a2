import CourierCore

/// What the engine asks its shell to do. The shell carries effects out in order; an effect
/// that needs an answer (a store write) comes back to the engine as an event.
package enum Effect: Sendable, Equatable {
    /// Publish a reply to a device. `recordID` is set for a request's stored final reply, which
    /// is marked delivered once the broker acknowledges it.
    case reply(DeviceReply, recordID: String?)
    /// Publish the record's dead letter on `courier/deadletters/{operation}`.
    case deadLetter(RequestRecord)
    /// Hand this started attempt to a worker.
    case dispatch(RequestRecord)
    /// Store a final outcome if the request is still pending; the stored record comes back
    /// through ``RequestEngine/outcomeStored(_:record:now:)``.
    case finish(FinalOutcome)
    /// The record's final reply needs no (more) publishing.
    case markDelivered(String)
    /// Start the next attempt of a request waiting in `received` (a compare-and-set on the
    /// attempt count), then dispatch it.
    case startAttempt(id: String, afterAttempts: Int, wakeAt: Int64)
    /// Put a timed-out attempt back to `received`, to start again at `wakeAt`.
    case retry(id: String, attempt: Int, wakeAt: Int64)
    /// Move the timer of a running attempt (a worker's heartbeat) if it is still the running
    /// one; `acknowledged`: a device said 202 to a command (its state becomes `acknowledged`).
    case extendAttempt(id: String, attempt: Int, wakeAt: Int64, acknowledged: Bool)
    /// A worker's progress: keep it as the request's latest until it ends (at the latest at its
    /// `deadline`), and send the device `reply` (at most one per `progressInterval`, the latest
    /// winning; none after the final reply).
    case progress(ProgressReport, reply: DeviceReply?, deadline: Int64)
    /// Tell the worker holding this request's attempt to stop: the request ended without it.
    case cancelWork(String)
    /// Answer the HTTP client that submitted this arrival.
    case respond(SubmitOutcome)
    /// Wake whoever waits for this request to end (`Prefer: wait`, status streams).
    case ended(RequestRecord)
    case count(Count)
    case log(LogLine)
}

/// A metric the engine counts; the shell maps each to its Prometheus series.
package enum Count: Sendable, Equatable {
    /// A request's outcome: `courier_requests_total{operation,status}`.
    case request(operation: String, status: Int)
    /// Time from receipt to final outcome.
    case latency(operation: String, milliseconds: Int64)
    /// A refused or dropped request, by reason (the error code, or `malformed_topic`).
    case rejection(String)
    /// A request refused without being stored (answered at once): counted for ``refusals``.
    case refusal
    case duplicate
    case retry
    case deadLetter
    /// A worker reply for no pending request (late, unknown, repeated) or unreadable.
    case ignoredWorkerReply
    /// A device's cancel that names no pending request of its own.
    case ignoredCancel
    /// A device's answer that names no command of its own.
    case ignoredCommandReply
    /// A final reply no broker can take, answered 500 in its place.
    case undeliverable
}

/// One log line the engine asks for. Metadata values are already rendered.
package struct LogLine: Sendable, Equatable {
    package enum Level: Sendable, Equatable {
        case debug, info, warning, error
    }

    package var level: Level
    package var message: String
    package var metadata: [String: String]

    package init(_ level: Level, _ message: String, _ metadata: [String: String] = [:]) {
        self.level = level
        self.message = message
        self.metadata = metadata
    }
}

/// What happened to a request submitted over HTTP or replayed by an operator.
package enum SubmitOutcome: Sendable, Equatable {
    /// Recorded and on its way to a worker.
    case accepted(RequestRecord)
    /// Same `Idempotency-Key` seen within retention: the original request.
    case duplicate(RequestRecord)
    /// Refused with this code; nothing is stored (the client sees the answer at once).
    case refused(ReplyCode, message: String)
}
