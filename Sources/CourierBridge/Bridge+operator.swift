import CourierCore
import CourierStore
import Foundation

/// What happened to a request submitted over HTTP.
public enum SubmitOutcome: Sendable {
    /// Recorded and on its way to a worker.
    case accepted(RequestRecord)
    /// Same `Idempotency-Key` seen within retention: the original request.
    case duplicate(RequestRecord)
    /// Refused with this code; nothing is stored (the client sees the answer at once).
    case refused(ReplyCode, message: String)
}

extension Bridge {
    /// Submits a request for clients that do not speak MQTT (the Asynchronous Request-Reply
    /// pattern): the same checks, store and workers as an MQTT request; the result is read
    /// back from the store.
    public func submit(operation: String, device: String, payload: Data, contentType: String?, idempotencyKey: String?) -> SubmitOutcome {
        func refuse(_ code: ReplyCode, _ message: String) -> SubmitOutcome {
            recordRefusal(code, operation: operation, device: device, message: message)
            return .refused(code, message: message)
        }
        guard Topics.isValidID(device) else { return refuse(.badRequest, "device must match [A-Za-z0-9_.-]{1,64}") }
        if let idempotencyKey, !Topics.isValidID(idempotencyKey) {
            return refuse(.badRequest, "Idempotency-Key must match [A-Za-z0-9_.-]{1,64}")
        }
        let request = IncomingRequest(topic: topics.requestTopic(device: device, operation: operation), payload: payload, contentType: contentType)
        let now = unixMillis()
        switch intake.evaluate(request, now: now) {
        case .drop(let reason):
            return refuse(.badRequest, reason)
        case .reject(_, let code, let message):
            return refuse(code, message)
        case .accept(var record):
            record.deviceProtocol = .http
            record.requestId = idempotencyKey
            record.identity = RequestIntake.identity(of: record)
            record.wakeAt = now + 1000
            do {
                guard mayHaveWorker(for: operation) else {
                    // A repeated Idempotency-Key is answered from the store, worker or not.
                    if let identity = record.identity, let existing = try store.record(identity: identity) {
                        metrics.duplicates.increment()
                        return .duplicate(existing)
                    }
                    return refuse(.noWorker, "no live worker serves \(operation)")
                }
                switch try store.accept(record, maxPendingPerDevice: configuration.limits.maxPendingPerDevice, maxPendingTotal: configuration.limits.maxPendingTotal) {
                case .accepted:
                    startAttempt(record)
                    return .accepted(record)
                case .duplicate(let existing):
                    metrics.duplicates.increment()
                    return .duplicate(existing)
                case .deviceOverQuota(let pending):
                    return refuse(.busy, "device \(device) has \(pending) requests pending")
                case .totalOverQuota:
                    return refuse(.unavailable, "the bridge is shedding load")
                }
            } catch {
                logger.error("store write failed", metadata: ["error": "\(error)"])
                return refuse(.unavailable, "the store is unavailable")
            }
        }
    }

    /// Counts and logs a request refused over HTTP without being stored, as refusals over MQTT
    /// are; for the HTTP layer's own refusals (an unknown operation, a body over the limit).
    public func recordRefusal(_ code: ReplyCode, operation: String, device: String, message: String) {
        countRefusal(code, operation: operation, device: device, message: message, via: "http")
    }

    /// Cancels a pending request: the device gets 410. Nil when the request is unknown or
    /// already final.
    public func cancel(id: String) -> RequestRecord? {
        finish(id, code: .cancelled, message: "cancelled by an operator", state: .cancelled)
    }

    /// Replays a dead letter as a new request with a fresh deadline, checked again as a new
    /// request is (size, content, quotas, a live worker): what cannot run is refused, nothing is
    /// stored. A 413's stored payload is only the first `maxPayloadBytes` of what the device
    /// sent, so it is never replayed. Nil when `id` is not a dead letter of a configured
    /// operation.
    public func replay(deadLetterID id: String) throws -> SubmitOutcome? {
        guard let original = try store.record(id: id), original.state.isDeadLetter,
            let operation = configuration.operation(named: original.operation)
        else { return nil }
        func refuse(_ code: ReplyCode, _ message: String) -> SubmitOutcome {
            recordRefusal(code, operation: original.operation, device: original.device, message: message)
            return .refused(code, message: message)
        }
        if original.reason == ReplyCode.payloadTooLarge.rawValue || original.payload.count > operation.maxPayloadBytes {
            return refuse(.payloadTooLarge, "dead letter \(id) holds only the first \(original.payload.count) bytes of a payload over the \(operation.maxPayloadBytes)-byte limit of \(operation.name)")
        }
        let check = IncomingRequest(topic: topics.requestTopic(device: original.device, operation: original.operation), payload: original.payload, contentType: original.contentType)
        if case .reject(_, let code, let message) = intake.evaluate(check, now: unixMillis()) {
            return refuse(code, message)
        }
        guard mayHaveWorker(for: original.operation) else {
            return refuse(.noWorker, "no live worker serves \(original.operation)")
        }
        let now = unixMillis()
        var copy = RequestRecord(
            id: RequestRecord.newID(),
            device: original.device,
            operation: original.operation,
            deviceProtocol: original.deviceProtocol,
            correlationData: original.correlationData,
            requestId: original.requestId,
            responseTopic: original.responseTopic,
            qos: original.qos,
            payload: original.payload,
            contentType: original.contentType,
            payloadFormatIndicator: original.payloadFormatIndicator,
            userProperties: original.userProperties,
            receivedAt: now,
            deadline: now + operation.timeout.milliseconds,
            wakeAt: now + 1000
        )
        copy.reason = "replay of \(original.id)"
        switch try store.accept(copy, maxPendingPerDevice: configuration.limits.maxPendingPerDevice, maxPendingTotal: configuration.limits.maxPendingTotal) {
        case .accepted, .duplicate:
            startAttempt(copy)
            return .accepted(copy)
        case .deviceOverQuota(let pending):
            return refuse(.busy, "device \(original.device) has \(pending) requests pending, the limit is \(configuration.limits.maxPendingPerDevice)")
        case .totalOverQuota:
            return refuse(.unavailable, "the bridge is shedding load")
        }
    }
}
