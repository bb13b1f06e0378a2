import CourierCore
import CourierStore
import CourierWorkers
import Foundation
import Logging

/// Store work the bridge group-commits (see ``Bridge/commit(_:)``).
enum StoreWork: Sendable {
    /// A final outcome, stored only if the request is still pending.
    case outcome(FinalOutcome)
    /// The broker acknowledged this record's final reply. Not urgent: committed with the next
    /// batch, or by the timer loop within a tick.
    case delivered(String)
}

extension Bridge {
    /// A worker's result for one of our requests. Stored by the next group commit; unknown,
    /// late and duplicate results find the record in another state and are ignored.
    func workerReplied(requestID: String, result: HandlerResponse) {
        let state: RequestState = result.status >= 500 ? .failed : .completed
        let code = Self.replyCode(for: result)
        let reply = StoredReply(
            status: result.status,
            code: code,
            payload: result.payload,
            contentType: result.contentType,
            userProperties: result.userProperties,
            reason: state == .failed ? ReplyCode.workerError.rawValue : nil
        )
        if !commits.submit(.outcome(FinalOutcome(id: requestID, state: state, reply: reply))) {
            // The attempt timer retries the request.
            metrics.ignoredWorkerReplies.increment()
            logger.warning("worker reply dropped: commit queue full", metadata: ["request.id": "\(requestID)"])
        }
    }

    /// The `error` code a worker's reply gives the device: the worker's own (its `error` user
    /// property), else the contract's code for the status.
    static func replyCode(for result: HandlerResponse) -> String {
        if let own = result.userProperties.first(named: "error"), !own.isEmpty, own.utf8.count <= 64 {
            return own
        }
        return ReplyCode.forStatus(result.status)?.rawValue ?? (result.status >= 400 ? "error" : "ok")
    }

    /// Ends a pending request at once with an error the bridge decided (504, 503, 410).
    @discardableResult
    func finish(_ id: String, code: ReplyCode, message: String, state: RequestState) -> RequestRecord? {
        let now = unixMillis()
        let outcome = Self.errorOutcome(id, code, message, state: state)
        do {
            guard let record = try store.finish([outcome], now: now)[0] else { return nil }
            if !finished(record, now: now) { try store.markDelivered(id: record.id, now: now) }
            return record
        } catch {
            logger.error("store write failed", metadata: ["request.id": "\(id)", "error": "\(error)"])
            return nil
        }
    }

    static func errorOutcome(_ id: String, _ code: ReplyCode, _ message: String, state: RequestState) -> FinalOutcome {
        let reply = StoredReply(
            status: code.status,
            code: code.rawValue,
            payload: ErrorBody(code, message: message).encoded(),
            contentType: ErrorBody.contentType,
            reason: state == .failed ? code.rawValue : nil
        )
        return FinalOutcome(id: id, state: state, reply: reply)
    }

    /// One group commit, on the network thread: records new device requests, stores final
    /// outcomes and delivery marks, all in one transaction; then answers the requests and
    /// publishes the replies it finalised.
    func commit(_ requests: [IncomingRequest], _ batch: [StoreWork]) {
        let now = unixMillis()
        let admitted = admit(requests, now: now)
        var outcomes: [FinalOutcome] = []
        var delivered: [String] = []
        for work in batch {
            switch work {
            case .outcome(let outcome): outcomes.append(outcome)
            case .delivered(let id): delivered.append(id)
            }
        }
        guard !admitted.isEmpty || !outcomes.isEmpty || !delivered.isEmpty else { return }
        let started = ContinuousClock.now
        let result: (accepted: [AcceptOutcome], finished: [RequestRecord?])
        do {
            result = try store.commit(
                accepting: admitted.map(\.record),
                maxPendingPerDevice: configuration.limits.maxPendingPerDevice,
                maxPendingTotal: configuration.limits.maxPendingTotal,
                finishing: outcomes,
                markingDelivered: delivered,
                now: now
            )
        } catch {
            // Requests are answered 503; outcomes are retried by the attempt timers, replies
            // published again by the delivery sweep.
            logger.error("store write failed", metadata: ["requests": "\(admitted.count)", "outcomes": "\(outcomes.count)", "error": "\(error)"])
            deliveries.end(delivered)
            for request in admitted { answer(request, nil) }
            return
        }
        metrics.storeWrite(since: started)
        deliveries.end(delivered)
        for (request, outcome) in zip(admitted, result.accepted) {
            answer(request, outcome)
        }
        for (outcome, record) in zip(outcomes, result.finished) {
            if let record {
                // Nothing to publish: marked delivered with the next group commit.
                if !finished(record, now: now) { commits.submit(.delivered(record.id), urgent: false) }
            } else {
                metrics.ignoredWorkerReplies.increment()
                logger.debug("worker reply ignored", metadata: ["request.id": "\(outcome.id)"])
            }
        }
    }

    /// After a final outcome is stored: metrics, the outcome's log line, the device's reply and
    /// the dead letter. False when there is no reply to publish (the caller marks it delivered).
    private func finished(_ record: RequestRecord, now: Int64) -> Bool {
        let status = record.replyStatus ?? 0
        metrics.request(operation: record.operation, status: status)
        metrics.latency(operation: record.operation, milliseconds: now - record.receivedAt)
        logOutcome(record, status: status, now: now)
        if record.state.isDeadLetter { publishDeadLetter(record) }
        guard let device = DeviceReply.final(for: record, topics: topics) else { return false }
        publish(device, recordID: record.id)
        return true
    }

    /// The one info line of a request's outcome; `message` says why it was rejected.
    func logOutcome(_ record: RequestRecord, status: Int, now: Int64, message: String? = nil) {
        var metadata: Logger.Metadata = [
            "request.id": "\(record.id)", "device.id": "\(record.device)", "operation": "\(record.operation)",
            "status": "\(status)", "duration_ms": "\(now - record.receivedAt)", "attempts": "\(record.attempts)",
        ]
        if status >= 400, let code = record.replyCode { metadata["error.code"] = "\(code)" }
        if let message { metadata["error.message"] = "\(message)" }
        logger.info("request finished", metadata: metadata)
    }
}
