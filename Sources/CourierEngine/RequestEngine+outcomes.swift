import CourierCore
import Foundation
import MQTT

extension RequestEngine {
    /// A worker answered an attempt: `status` (100-599), its payload and properties. The
    /// outcome is stored only if the request is still pending: late, unknown and repeated
    /// results find it final and are ignored.
    package func workerReplied(requestID: String, status: Int, payload: Data, contentType: String?, userProperties: [UserProperty]) -> [Effect] {
        let state: RequestState = status >= 500 ? .failed : .completed
        let reply = StoredReply(
            status: status,
            code: Self.replyCode(status: status, userProperties: userProperties),
            payload: payload,
            contentType: contentType,
            userProperties: userProperties,
            reason: state == .failed ? ReplyCode.workerError.rawValue : nil
        )
        return [.finish(FinalOutcome(id: requestID, state: state, reply: reply))]
    }

    /// The `error` code a worker's reply gives the device: the worker's own (its `error` user
    /// property), else the contract's code for the status.
    static func replyCode(status: Int, userProperties: [UserProperty]) -> String {
        if let own = userProperties.first(named: "error"), !own.isEmpty, own.utf8.count <= 64 {
            return own
        }
        return ReplyCode.forStatus(status)?.rawValue ?? (status >= 400 ? "error" : "ok")
    }

    /// An operator or client cancels a pending request: the device gets 410.
    package func cancel(id: String) -> FinalOutcome {
        Self.errorOutcome(id, .cancelled, "cancelled by an operator", state: .cancelled)
    }

    /// The store applied (`record`) or refused (nil: the request was no longer pending) a final
    /// outcome at `now`.
    package func outcomeStored(_ outcome: FinalOutcome, record: RequestRecord?, now: Int64) -> [Effect] {
        guard let record else {
            return [.count(.ignoredWorkerReply), .log(LogLine(.debug, "worker reply ignored", ["request.id": outcome.id]))]
        }
        let status = record.replyStatus ?? 0
        var effects: [Effect] = [
            .count(.request(operation: record.operation, status: status)),
            .count(.latency(operation: record.operation, milliseconds: now - record.receivedAt)),
            .log(outcomeLine(record, status: status, now: now)),
            .ended(record),
        ]
        if record.state.isDeadLetter { effects += [.count(.deadLetter), .deadLetter(record)] }
        // A worker may still be at it: a cancelled request's, or one that ran out of time.
        if [.cancelled, .expired].contains(record.state), record.attempts > 0 { effects.append(.cancelWork(record.id)) }
        if let reply = DeviceReply.final(for: record, topics: topics) {
            effects.append(.reply(reply, recordID: record.id))
        } else {
            effects.append(.markDelivered(record.id))
        }
        return effects
    }

    /// The one info line of a request's outcome; `message` says why it was rejected.
    func outcomeLine(_ record: RequestRecord, status: Int, now: Int64, message: String? = nil) -> LogLine {
        var metadata = [
            "request.id": record.id, "device.id": record.device, "operation": record.operation,
            "status": "\(status)", "duration_ms": "\(now - record.receivedAt)", "attempts": "\(record.attempts)",
        ]
        if status >= 400, let code = record.replyCode { metadata["error.code"] = code }
        if let message { metadata["error.message"] = message }
        return LogLine(.info, "request finished", metadata)
    }
}
