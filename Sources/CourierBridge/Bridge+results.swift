import CourierCore
import CourierStore
import Foundation

/// Store work the bridge group-commits (see ``Bridge/commit(_:)``).
enum StoreWork: Sendable {
    /// A final outcome, stored only if the request is still pending.
    case outcome(FinalOutcome)
    /// The broker acknowledged this record's final reply.
    case delivered(String)
}

extension Bridge {
    /// A worker's result for one of our requests. Stored by the next group commit; unknown,
    /// late and duplicate results find the record in another state and are ignored.
    func workerReplied(requestID: String, result: WorkResult) {
        let state: RequestState = result.status >= 500 ? .failed : .completed
        let code = ReplyCode.forStatus(result.status)?.rawValue ?? (result.status >= 400 ? "error" : "ok")
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

    /// One group commit, on the commit queue's thread: stores the batch's outcomes and delivery
    /// marks in one transaction, then publishes the replies it finalised.
    func commit(_ batch: [StoreWork]) {
        var outcomes: [FinalOutcome] = []
        var delivered: [String] = []
        for work in batch {
            switch work {
            case .outcome(let outcome): outcomes.append(outcome)
            case .delivered(let id): delivered.append(id)
            }
        }
        let started = ContinuousClock.now
        let now = unixMillis()
        let records: [RequestRecord?]
        do {
            records = try store.finish(outcomes, markingDelivered: delivered, now: now)
        } catch {
            // Outcomes are retried by the attempt timers, replies published again by the sweep.
            deliveries.end(delivered)
            logger.error("store write failed", metadata: ["batch": "\(batch.count)", "error": "\(error)"])
            return
        }
        metrics.storeWrite(since: started)
        deliveries.end(delivered)
        var nothingToPublish: [String] = []
        for (outcome, record) in zip(outcomes, records) {
            if let record {
                if !finished(record, now: now) { nothingToPublish.append(record.id) }
            } else {
                metrics.ignoredWorkerReplies.increment()
                logger.debug("worker reply ignored", metadata: ["request.id": "\(outcome.id)"])
            }
        }
        try? store.markDelivered(ids: nothingToPublish, now: now)
    }

    /// After a final outcome is stored: metrics, the outcome's log line, the device's reply and
    /// the dead letter. False when there is no reply to publish (the caller marks it delivered).
    private func finished(_ record: RequestRecord, now: Int64) -> Bool {
        let status = record.replyStatus ?? 0
        metrics.request(operation: record.operation, status: status)
        metrics.latency(operation: record.operation, milliseconds: now - record.receivedAt)
        logger.info(
            "request finished",
            metadata: [
                "request.id": "\(record.id)", "device.id": "\(record.device)", "operation": "\(record.operation)",
                "status": "\(status)", "duration_ms": "\(now - record.receivedAt)", "attempts": "\(record.attempts)",
            ]
        )
        if record.state.isDeadLetter { publishDeadLetter(record) }
        guard let device = DeviceReply.final(for: record, topics: topics) else { return false }
        publish(device, recordID: record.id)
        return true
    }
}
