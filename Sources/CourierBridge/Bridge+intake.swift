import CourierCore
import CourierStore
import CourierWorkers
import Foundation
import MQTT

extension Bridge {
    /// Every message the bridge's client receives, on the network thread, before its PUBACK
    /// is written. Device requests are gathered for ``acceptGathered()``.
    func receive(_ message: MQTTMessage) {
        if message.topic == replyTopic {
            guard let reply = WorkMessage.decodeResult(message) else {
                metrics.ignoredWorkerReplies.increment()
                logger.warning("worker reply without correlation data ignored")
                return
            }
            if let status = reply.invalidStatus {
                logger.warning("worker reply with an invalid status", metadata: ["request.id": "\(reply.requestID)", "status": "\(status)"])
            }
            workerReplied(requestID: reply.requestID, result: reply.result)
        } else if message.topic.hasPrefix(topics.presencePrefix + "/") {
            directory.update(workerID: String(message.topic.dropFirst(topics.presencePrefix.count + 1)), payload: message.payload)
        } else {
            gathered.withLock { $0.append(IncomingRequest(message)) }
        }
    }

    /// On the network thread after a run of messages, before their PUBACKs are written: records
    /// the gathered requests, with the outcomes and delivery marks waiting in ``commits``, in one
    /// transaction, so once acknowledged none can be lost.
    func acceptGathered() {
        var requests = gathered.withLock { gathered in
            defer { gathered = [] }
            return gathered
        }
        commits.drain { work in
            commit(requests, work)
            requests = []
        }
    }

    /// A validated request to store, and what intake decided for it.
    struct Admitted {
        enum Admission {
            /// For a worker; `ack` answers 202 first; `send` dispatches it now, otherwise the
            /// timers start it (after a restart).
            case work(ack: Bool, send: Bool)
            /// Refused with this code; `reply` is the error reply unless the response topic is
            /// forbidden.
            case rejection(ReplyCode, DeviceReply?, message: String)
        }

        var record: RequestRecord
        var admission: Admission
    }

    /// Validates device requests: those to store, with what to do once stored. Requests that
    /// are dropped or refused without a record (503 `no_worker`) are answered here.
    func admit(_ requests: [IncomingRequest], now: Int64) -> [Admitted] {
        var admitted: [Admitted] = []
        admitted.reserveCapacity(requests.count)
        for request in requests {
            switch intake.evaluate(request, now: now) {
            case .drop(let reason):
                metrics.rejection("malformed_topic")
                logger.warning("request dropped", metadata: ["mqtt.topic": "\(request.topic)", "reason": "\(reason)"])
            case .reject(var record, let code, let message):
                metrics.rejection(code.rawValue)
                record.replyStatus = code.status
                record.replyCode = code.rawValue
                record.replyPayload = ErrorBody(code, message: message).encoded()
                record.replyContentType = ErrorBody.contentType
                let reply = code == .forbiddenResponseTopic ? nil : DeviceReply.final(for: record, topics: topics)
                if reply == nil { record.deliveredAt = now }
                admitted.append(Admitted(record: record, admission: .rejection(code, reply, message: message)))
            case .accept(var record):
                guard mayHaveWorker(for: record.operation) else {
                    refuseWithoutWorker(record)
                    continue
                }
                let operation = configuration.operation(named: record.operation)
                let ack = operation?.ack == true
                if isStopping {
                    // Recorded and left for the next start: no new work while draining.
                    record.wakeAt = now
                    admitted.append(Admitted(record: record, admission: .work(ack: ack, send: false)))
                    continue
                }
                // Stored as attempt 1 already, saving a write; if the send never happens (too
                // many publishes in flight, a crash) the attempt timer retries it.
                record.state = .dispatched
                record.attempts = 1
                record.wakeAt = attemptWake(attempt: 1, now: now, deadline: record.deadline, operation: operation)
                admitted.append(Admitted(record: record, admission: .work(ack: ack, send: true)))
            }
        }
        return admitted
    }

    /// Answers a stored (or refused) request: dispatch, 202, 429, 503, a duplicate's reply, or a
    /// rejection's error reply and dead letter. `outcome` is nil when the store failed.
    func answer(_ admitted: Admitted, _ outcome: AcceptOutcome?) {
        let record = admitted.record
        switch (admitted.admission, outcome) {
        case (_, .duplicate(let existing)?):
            answerDuplicate(existing, asked: record)
        case (.rejection(let code, let reply, let message), .accepted?):
            if let reply { publish(reply, recordID: record.id) }
            metrics.request(operation: metricLabel(record.operation), status: code.status)
            logOutcome(record, status: code.status, now: record.receivedAt, message: message)
            publishDeadLetter(record)
        case (.rejection, _):
            break  // not stored: nothing owed beyond the count and the log line
        case (.work(let ack, let sendNow), .accepted?):
            if ack { answerTransient(record, .accepted, "accepted") }
            if sendNow { send(record) }
        case (.work, .deviceOverQuota(let pending)?):
            answerTransient(record, .busy, "device \(record.device) has \(pending) requests pending, the limit is \(configuration.limits.maxPendingPerDevice)")
        case (.work, .totalOverQuota?):
            answerTransient(record, .unavailable, "the bridge is shedding load")
        case (.work, nil):
            answerTransient(record, .unavailable, "the store is unavailable")
        }
    }

    /// Whether a request may go to a worker: one is present, or the bridge has just subscribed
    /// to presence and the retained messages may still be on their way (a restarted bridge
    /// reads the requests queued for it first). The send then finds out: with no worker
    /// subscribed the broker's "no matching subscribers" gives 503.
    func mayHaveWorker(for operation: String) -> Bool {
        unixMillis() < presenceSettlesAt.load(ordering: .relaxed) || dispatcher.hasWorker(for: operation)
    }

    /// 503 `no_worker`, or a duplicate's stored answer: a duplicate is answered as one whether
    /// or not a worker is present.
    private func refuseWithoutWorker(_ record: RequestRecord) {
        do {
            if let identity = record.identity, let existing = try store.record(identity: identity) {
                answerDuplicate(existing, asked: record)
                return
            }
        } catch {
            logger.error("store read failed", metadata: ["device.id": "\(record.device)", "error": "\(error)"])
        }
        answerTransient(record, .noWorker, "no live worker serves \(record.operation)")
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

    /// Counts (metrics and ``refusals``) and logs a request refused without being stored.
    func countRefusal(_ code: ReplyCode, operation: String, device: String, message: String, via: String) {
        refused.add(1, ordering: .relaxed)
        metrics.rejection(code.rawValue)
        metrics.request(operation: metricLabel(operation), status: code.status)
        logger.info(
            "request refused",
            metadata: ["device.id": "\(device)", "operation": "\(operation)", "status": "\(code.status)", "error.message": "\(message)", "via": "\(via)"]
        )
    }

    /// Publishes a reply that is not the request's stored final one (202, 429, 503).
    func answerTransient(_ record: RequestRecord, _ code: ReplyCode, _ message: String) {
        if code != .accepted {
            countRefusal(code, operation: record.operation, device: record.device, message: message, via: "mqtt")
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
            userProperties: message.properties.userProperties
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
