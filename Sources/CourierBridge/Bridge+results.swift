import CourierCore
import CourierStore
import Foundation

extension Bridge {
    /// A worker's result for one of our requests. Unknown, late and duplicate results find the
    /// record in another state and are ignored.
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
        if store(requestID, state: state, reply: reply) == nil {
            metrics.ignoredWorkerReplies.increment()
            logger.debug("worker reply ignored", metadata: ["request.id": "\(requestID)"])
        }
    }

    /// Ends a pending request with an error the bridge decided (504, 503, 410).
    @discardableResult
    func finish(_ id: String, code: ReplyCode, message: String, state: RequestState) -> RequestRecord? {
        let reply = StoredReply(
            status: code.status,
            code: code.rawValue,
            payload: ErrorBody(code, message: message).encoded(),
            contentType: ErrorBody.contentType,
            reason: state == .failed ? code.rawValue : nil
        )
        return store(id, state: state, reply: reply)
    }

    /// Stores a final reply (compare-and-set from a pending state), then publishes it.
    private func store(_ id: String, state: RequestState, reply: StoredReply) -> RequestRecord? {
        let now = unixMillis()
        let record: RequestRecord?
        do {
            record = try store.finish(id: id, state: state, reply: reply, onlyFrom: RequestState.pending, now: now)
        } catch {
            logger.error("store write failed", metadata: ["request.id": "\(id)", "error": "\(error)"])
            return nil
        }
        guard let record else { return nil }
        metrics.request(operation: record.operation, status: reply.status)
        metrics.latency(operation: record.operation, milliseconds: now - record.receivedAt)
        logger.info(
            "request finished",
            metadata: [
                "request.id": "\(record.id)", "device.id": "\(record.device)", "operation": "\(record.operation)",
                "status": "\(reply.status)", "duration_ms": "\(now - record.receivedAt)", "attempts": "\(record.attempts)",
            ]
        )
        if let device = DeviceReply.final(for: record, topics: topics) {
            enqueue(.publish(device, recordID: record.id))
        } else {
            try? store.markDelivered(id: record.id, now: now)
        }
        if state.isDeadLetter { enqueue(.deadLetter(record)) }
        return record
    }
}
