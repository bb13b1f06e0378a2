import CourierCore
import Foundation

extension RequestEngine {
    /// A request arrived (from a device, over HTTP, or as a replay) at `now`.
    package func admit(_ arrival: Arrival, now: Int64, conditions: Conditions) -> Admission {
        let decision: IntakeDecision
        switch arrival {
        case .device(let request):
            decision = intake.evaluate(request, now: now)
        case .http(let device, let operation, let payload, let contentType, let requestId):
            decision = intake.evaluate(device: device, operation: operation, payload: payload, contentType: contentType, requestId: requestId, now: now)
        case .replay(let original):
            return admitReplay(of: original, now: now, conditions: conditions)
        case .command(let command):
            return admitCommand(command, now: now, conditions: conditions)
        }
        switch decision {
        case .drop(let reason):
            if case .http(let device, let operation, _, _, _) = arrival {
                return .done(refusal(.badRequest, reason, operation: operation, device: device, answersCaller: true))
            }
            let topic = if case .device(let request) = arrival { request.topic } else { "" }
            return .done([
                .count(.rejection("malformed_topic")),
                .log(LogLine(.warning, "request dropped", ["mqtt.topic": topic, "reason": reason])),
            ])
        case .reject(var record, let code, let message):
            guard !arrival.answersCaller else {
                // The client hears at once; nothing is stored.
                return .done(refusal(code, message, operation: record.operation, device: record.device, answersCaller: true))
            }
            record.replyStatus = code.status
            record.replyCode = code.rawValue
            record.replyPayload = ErrorBody(code, message: message).encoded()
            record.replyContentType = ErrorBody.contentType
            let reply = code == .forbiddenResponseTopic ? nil : DeviceReply.final(for: record, topics: topics)
            if reply == nil { record.deliveredAt = now }
            return .store(Admitted(record: record, plan: .rejection(code, reply, message: message), answersCaller: false))
        case .accept(let record):
            return accept(record, now: now, conditions: conditions, answersCaller: arrival.answersCaller)
        }
    }

    /// A valid request: for a worker, if one may serve it.
    private func accept(_ record: RequestRecord, now: Int64, conditions: Conditions, answersCaller: Bool) -> Admission {
        var record = record
        let ack = configuration.operation(named: record.operation)?.ack == true && !answersCaller
        guard conditions.mayHaveWorker(record.operation) else {
            return .lookUp(Admitted(record: record, plan: .work(ack: ack, send: false), answersCaller: answersCaller))
        }
        if conditions.stopping {
            // Recorded and left for the next start: no new work while draining.
            record.wakeAt = now
            return .store(Admitted(record: record, plan: .work(ack: ack, send: false), answersCaller: answersCaller))
        }
        return .store(Admitted(record: startedAsFirstAttempt(record, now: now), plan: .work(ack: ack, send: true), answersCaller: answersCaller))
    }

    /// The record stored as attempt 1 already, saving a write; if the send never happens (too
    /// many in flight, a crash) the attempt timer retries it.
    func startedAsFirstAttempt(_ record: RequestRecord, now: Int64) -> RequestRecord {
        var record = record
        record.state = .dispatched
        record.attempts = 1
        record.wakeAt = attemptWake(attempt: 1, now: now, of: record)
        return record
    }

    /// A dead letter to run again, checked as a new request is (size, content, a live worker,
    /// and quotas by the store). A 413's stored payload is only the first `maxPayloadBytes` of
    /// what the device sent, so it is never replayed.
    private func admitReplay(of original: RequestRecord, now: Int64, conditions: Conditions) -> Admission {
        func refuse(_ code: ReplyCode, _ message: String) -> Admission {
            .done(refusal(code, message, operation: original.operation, device: original.device, answersCaller: true))
        }
        guard let operation = configuration.operation(named: original.operation) else {
            return refuse(.unknownOperation, "operation \(original.operation) is not configured")
        }
        if original.reason == ReplyCode.payloadTooLarge.rawValue || original.payload.count > operation.maxPayloadBytes {
            return refuse(.payloadTooLarge, "dead letter \(original.id) holds only the first \(original.payload.count) bytes of a payload over the \(operation.maxPayloadBytes)-byte limit of \(operation.name)")
        }
        let check = intake.evaluate(
            device: original.device, operation: original.operation, payload: original.payload,
            contentType: original.contentType, requestId: nil, now: now
        )
        if case .reject(_, let code, let message) = check { return refuse(code, message) }
        guard conditions.mayHaveWorker(original.operation) else {
            return refuse(.noWorker, "no live worker serves \(original.operation)")
        }
        var copy = RequestRecord(
            id: RequestRecord.newID(now: now),
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
            deadline: now + operation.timeout.milliseconds
        )
        copy.reason = "replay of \(original.id)"
        return accept(copy, now: now, conditions: conditions, answersCaller: true)
    }

    /// The store's answer for an admitted request (nil: the store failed).
    package func stored(_ admitted: Admitted, _ outcome: AcceptOutcome?, now: Int64) -> [Effect] {
        let record = admitted.record
        if case .rejection(let code, let reply, let message) = admitted.plan {
            let counted = Effect.count(.rejection(code.rawValue))
            switch outcome {
            case .duplicate(let existing)?:
                return [counted] + duplicate(existing, askedBy: admitted)
            case .accepted?:
                var effects = [counted]
                if let reply { effects.append(.reply(reply, recordID: record.id)) }
                effects.append(.count(.request(operation: metricLabel(record.operation), status: code.status)))
                effects.append(.log(outcomeLine(record, status: code.status, now: now, message: message)))
                effects.append(.count(.deadLetter))
                effects.append(.deadLetter(record))
                return effects
            default:
                return [counted]  // not stored: the store's failure is the shell's to log
            }
        }
        switch (admitted.plan, outcome) {
        case (_, .duplicate(let existing)?):
            return duplicate(existing, askedBy: admitted)
        case (.rejection, _):
            return []  // answered above
        case (.work(let ack, let send), .accepted?):
            var effects: [Effect] = []
            if admitted.answersCaller { effects.append(.respond(.accepted(record))) }
            if ack { effects += transient(record, .accepted, "accepted") }
            if send { effects.append(.dispatch(record)) }
            return effects
        case (.work, .deviceOverQuota(let pending)?):
            return refusal(.busy, "device \(record.device) has \(pending) requests pending, the limit is \(configuration.limits.maxPendingPerDevice)", admitted)
        case (.work, .totalOverQuota?):
            return refusal(.unavailable, "the bridge is shedding load", admitted)
        case (.work, nil):
            return refusal(.unavailable, "the store is unavailable", admitted)
        }
    }

    /// A request no live worker serves, and the stored request with its identity if there is
    /// one: a duplicate is answered as one whether or not a worker is present; else 503.
    package func withoutWorker(_ admitted: Admitted, existing: RequestRecord?) -> [Effect] {
        if let existing { return duplicate(existing, askedBy: admitted) }
        return refusal(.noWorker, "no live worker serves \(admitted.record.operation)", admitted)
    }

    /// A duplicate gets the stored final reply, or 202 while the original is in progress; it
    /// never reaches a worker.
    private func duplicate(_ existing: RequestRecord, askedBy admitted: Admitted) -> [Effect] {
        if admitted.answersCaller { return [.count(.duplicate), .respond(.duplicate(existing))] }
        var target = existing
        target.responseTopic = admitted.record.responseTopic
        if existing.state.isFinal, existing.replyStatus != nil {
            guard let reply = DeviceReply.final(for: target, topics: topics) else { return [.count(.duplicate)] }
            return [.count(.duplicate), .reply(reply, recordID: nil)]
        }
        return [.count(.duplicate)] + transient(target, .accepted, "in progress")
    }

    /// A request refused without being stored (429, 503, or any refusal over HTTP): counted,
    /// logged, and answered to whoever asked.
    private func refusal(_ code: ReplyCode, _ message: String, _ admitted: Admitted) -> [Effect] {
        guard !admitted.answersCaller else {
            return refusal(code, message, operation: admitted.record.operation, device: admitted.record.device, answersCaller: true)
        }
        return transient(admitted.record, code, message)
    }

    private func refusal(_ code: ReplyCode, _ message: String, operation: String, device: String, answersCaller: Bool) -> [Effect] {
        var effects = refusalCounts(code, message, operation: operation, device: device, via: answersCaller ? "http" : "mqtt")
        if answersCaller { effects.append(.respond(.refused(code, message: message))) }
        return effects
    }

    /// The counts and the log line of a request refused without being stored.
    package func refusalCounts(_ code: ReplyCode, _ message: String, operation: String, device: String, via: String) -> [Effect] {
        [
            .count(.refusal),
            .count(.rejection(code.rawValue)),
            .count(.request(operation: metricLabel(operation), status: code.status)),
            .log(LogLine(.info, "request refused", ["device.id": device, "operation": operation, "status": "\(code.status)", "error.message": message, "via": via])),
        ]
    }

    /// A reply that is not the request's stored final one (202, 429, 503) for a device.
    func transient(_ record: RequestRecord, _ code: ReplyCode, _ message: String) -> [Effect] {
        var effects: [Effect] = []
        if code != .accepted {
            effects = refusalCounts(code, message, operation: record.operation, device: record.device, via: "mqtt")
        }
        let body = code == .accepted
            ? Data("{\"state\":\"\(record.state.rawValue)\",\"status\":202}".utf8)
            : ErrorBody(code, message: message).encoded()
        if let reply = DeviceReply.make(for: record, status: code.status, code: code.rawValue, payload: body, contentType: ErrorBody.contentType, topics: topics) {
            effects.append(.reply(reply, recordID: nil))
        }
        return effects
    }
}
