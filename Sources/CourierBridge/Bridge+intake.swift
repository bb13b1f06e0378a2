import CourierCore
import CourierStore
import Foundation
import MQTT

extension Bridge {
    /// Every message the bridge's client receives, on the network thread, before its PUBACK
    /// is written. Device requests are gathered for ``acceptGathered()``.
    func receive(_ message: MQTTMessage) {
        if message.topic == replyTopic {
            let status = message.properties.userProperty("status").flatMap(Int.init) ?? 200
            guard let correlation = message.properties.correlationData else {
                metrics.ignoredWorkerReplies.increment()
                return
            }
            let result = WorkResult(
                status: status,
                payload: message.payload,
                contentType: message.properties.contentType,
                userProperties: message.properties.userProperties.filter { $0.name != "status" }.map { UserProperty($0.name, $0.value) }
            )
            workerReplied(requestID: String(decoding: correlation, as: UTF8.self), result: result)
        } else if message.topic.hasPrefix(topics.presencePrefix + "/") {
            directory.update(workerID: String(message.topic.dropFirst(topics.presencePrefix.count + 1)), payload: message.payload)
        } else {
            gathered.withLock { $0.append(IncomingRequest(message)) }
        }
    }

    /// On the network thread after a run of messages, before their PUBACKs are written: records
    /// the gathered requests in one transaction, so once acknowledged none can be lost.
    func acceptGathered() {
        let requests = gathered.withLock { gathered in
            defer { gathered = [] }
            return gathered
        }
        if !requests.isEmpty { accept(requests) }
        // Outcomes waiting too, so their replies go out with these PUBACKs.
        commits.drain()
    }

    /// What intake decided for a request before storing it.
    private enum Admission {
        /// To a worker; `ack` answers 202 first.
        case work(ack: Bool)
        /// Refused with this code and message; `reply` is the error reply unless the response
        /// topic is forbidden.
        case rejection(ReplyCode, String, DeviceReply?)
    }

    /// Validates, records (one transaction for all) and answers device requests.
    func accept(_ requests: [IncomingRequest]) {
        let now = unixMillis()
        var admitted: [(record: RequestRecord, admission: Admission)] = []
        admitted.reserveCapacity(requests.count)
        for request in requests {
            switch intake.evaluate(request, now: now) {
            case .drop(let reason):
                metrics.rejection("malformed_topic")
                logger.warning("request dropped", metadata: ["mqtt.topic": "\(request.topic)", "reason": "\(reason)"])
            case .reject(var record, let code, let message):
                metrics.rejection(code.rawValue)
                logger.warning(
                    "request rejected",
                    metadata: ["device.id": "\(record.device)", "operation": "\(record.operation)", "error.code": "\(code.rawValue)", "error.message": "\(message)"]
                )
                record.replyStatus = code.status
                record.replyCode = code.rawValue
                record.replyPayload = ErrorBody(code, message: message).encoded()
                record.replyContentType = ErrorBody.contentType
                let reply = code == .forbiddenResponseTopic ? nil : DeviceReply.final(for: record, topics: topics)
                if reply == nil { record.deliveredAt = now }
                admitted.append((record, .rejection(code, message, reply)))
            case .accept(var record):
                guard dispatcher.hasWorker(for: record.operation) else {
                    answerTransient(record, .noWorker, "no live worker serves \(record.operation)")
                    continue
                }
                // Stored as attempt 1 already, saving a write; if the send never happens (too
                // many publishes in flight, a crash) the attempt timer retries it.
                let operation = configuration.operation(named: record.operation)
                record.state = .dispatched
                record.attempts = 1
                record.wakeAt = min(now + (operation?.attemptTimeout.milliseconds ?? 3000), record.deadline)
                admitted.append((record, .work(ack: operation?.ack == true)))
            }
        }
        guard !admitted.isEmpty else { return }
        let outcomes = store(admitted.map(\.record))
        for ((record, admission), outcome) in zip(admitted, outcomes) {
            switch (admission, outcome) {
            case (_, .duplicate(let existing)?):
                answerDuplicate(existing, asked: record)
            case (.rejection(let code, _, let reply), .accepted?):
                if let reply { publish(reply, recordID: record.id) }
                metrics.request(operation: metricLabel(record.operation), status: code.status)
                publishDeadLetter(record)
            case (.rejection, _):
                break  // not stored: nothing owed beyond the count and the log line
            case (.work(let ack), .accepted?):
                if ack { answerTransient(record, .accepted, "accepted") }
                send(record)
            case (.work, .deviceOverQuota(let pending)?):
                answerTransient(record, .busy, "device \(record.device) has \(pending) requests pending, the limit is \(configuration.limits.maxPendingPerDevice)")
            case (.work, .totalOverQuota?):
                answerTransient(record, .unavailable, "the bridge is shedding load")
            case (.work, nil):
                answerTransient(record, .unavailable, "the store is unavailable")
            }
        }
    }

    /// Stores new records in one transaction; all nil when the store failed (logged).
    private func store(_ records: [RequestRecord]) -> [AcceptOutcome?] {
        let started = ContinuousClock.now
        defer { metrics.storeWrite(since: started) }
        do {
            return try store.accept(
                records,
                maxPendingPerDevice: configuration.limits.maxPendingPerDevice,
                maxPendingTotal: configuration.limits.maxPendingTotal
            )
        } catch {
            logger.error("store write failed", metadata: ["requests": "\(records.count)", "error": "\(error)"])
            return Array(repeating: nil, count: records.count)
        }
    }

    /// A duplicate gets the stored final reply, or 202 while the original is in progress; it
    /// never reaches a worker.
    private func answerDuplicate(_ existing: RequestRecord, asked: RequestRecord) {
        metrics.duplicates.increment()
        var target = existing
        target.responseTopic = asked.responseTopic
        if existing.state.isFinal, existing.replyStatus != nil {
            if let reply = DeviceReply.final(for: target, topics: topics) { publish(reply, recordID: nil) }
        } else {
            answerTransient(target, .accepted, "in progress")
        }
    }

    /// Publishes a reply that is not the request's stored final one (202, 429, 503).
    func answerTransient(_ record: RequestRecord, _ code: ReplyCode, _ message: String) {
        if code != .accepted {
            metrics.rejection(code.rawValue)
            metrics.request(operation: metricLabel(record.operation), status: code.status)
            logger.info("request refused", metadata: ["device.id": "\(record.device)", "operation": "\(record.operation)", "status": "\(code.status)", "error.message": "\(message)"])
        }
        let body = code == .accepted
            ? Data("{\"state\":\"\(record.state.rawValue)\",\"status\":202}".utf8)
            : ErrorBody(code, message: message).encoded()
        if let reply = DeviceReply.make(for: record, status: code.status, code: code.rawValue, payload: body, contentType: ErrorBody.contentType, topics: topics) {
            publish(reply, recordID: nil)
        }
    }
}

extension IncomingRequest {
    init(_ message: MQTTMessage) {
        self.init(
            topic: message.topic,
            payload: message.payload,
            qos: message.qos.rawValue,
            responseTopic: message.properties.responseTopic,
            correlationData: message.properties.correlationData,
            messageExpiry: message.properties.messageExpiry,
            contentType: message.properties.contentType,
            payloadFormatIndicator: message.properties.payloadFormatIndicator.map(Int.init),
            userProperties: message.properties.userProperties.map { UserProperty($0.name, $0.value) }
        )
    }
}

extension Bridge {
    /// An operation name fit for a metric label: device-chosen names of unconfigured
    /// operations would make label values unbounded.
    func metricLabel(_ operation: String) -> String {
        configuration.operation(named: operation) == nil ? "unknown" : operation
    }
}
