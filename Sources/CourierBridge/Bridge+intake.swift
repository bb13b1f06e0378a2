import CourierCore
import CourierEngine
import CourierStore
import CourierWorkers
import Foundation
import MQTT

extension Bridge {
    /// Every message the bridge's client receives, on the network thread, before its PUBACK
    /// is written. Device requests are queued for ``acceptInbound()``.
    func receive(_ message: MQTTMessage) {
        if message.topic == replyTopic {
            workerReply(message)
        } else if message.topic.hasPrefix(topics.presencePrefix + "/") {
            directory.update(workerID: String(message.topic.dropFirst(topics.presencePrefix.count + 1)), payload: message.payload)
        } else if !configuration.commands.isEmpty, let reply = topics.parseCommandReply(message.topic) {
            commandReply(reply, message)
        } else if !configuration.commands.isEmpty, let submission = Self.commandSubmission(message, topics: topics) {
            _ = inbound.append(.init(arrival: .command(submission)))
        } else if let cancel = topics.parseCancel(message.topic) {
            // After the batch's commit: a request read in the same batch is stored by then.
            deviceCancels.withLock { $0.append((cancel, message.properties.correlationData)) }
        } else {
            _ = inbound.append(.init(arrival: .device(IncomingRequest(message))))
        }
    }

    /// A backend's command from `courier/commands/{device}/{command}`, if the topic is one.
    private static func commandSubmission(_ message: MQTTMessage, topics: Topics) -> CommandSubmission? {
        let prefix = topics.commandSubmissionPrefix + "/"
        guard message.topic.hasPrefix(prefix) else { return nil }
        let levels = message.topic.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard levels.count == 2 else { return nil }
        return CommandSubmission(message, device: String(levels[0]), command: String(levels[1]))
    }

    /// Devices cancel their requests, on the network thread.
    private func cancelForDevices() {
        let cancels = deviceCancels.withLock { cancels in
            defer { cancels.removeAll() }
            return cancels
        }
        for (cancel, correlationData) in cancels {
            cancelForDevice(cancel, correlationData: correlationData)
        }
    }

    private func cancelForDevice(_ cancel: ParsedCancelTopic, correlationData: Data?) {
        var record: RequestRecord?
        if let identity = engine.cancelIdentity(cancel, correlationData: correlationData) {
            do {
                record = try store.record(identity: identity)
            } catch {
                logger.error("store read failed", metadata: ["error": "\(error)"])
                return
            }
        }
        perform(engine.deviceCancelled(record, device: cancel.device))
    }

    /// A worker's reply to one of this bridge's attempts (or, adopting a lapsed bridge's
    /// session, to one of that bridge's).
    func workerReply(_ message: MQTTMessage) {
        guard let reply = WorkMessage.decodeResult(message) else {
            perform([.count(.ignoredWorkerReply), .log(LogLine(.warning, "worker reply without correlation data ignored"))])
            return
        }
        if let status = reply.invalidStatus {
            logger.warning("worker reply with an invalid status", metadata: ["request.id": "\(reply.requestID)", "status": "\(status)"])
        }
        let result = reply.result
        if reply.isFinal { dispatcher.attemptEnded(requestID: reply.requestID) }
        if RequestEngine.isInterim(status: result.status) {
            workerReported(reply.requestID, result, percent: reply.progress)
            return
        }
        perform(engine.workerReplied(
            requestID: reply.requestID, status: result.status, payload: result.payload,
            contentType: result.contentType, userProperties: result.userProperties
        ))
    }

    /// A worker's interim reply (102 progress, 202 still working), on the network thread.
    func workerReported(_ requestID: String, _ result: HandlerResponse, percent: Int?) {
        withStoredRecord(id: requestID) { record in
            perform(engine.workerReported(
                status: result.status, percent: percent, payload: result.payload, contentType: result.contentType,
                record: record, now: unixMillis()))
        }
    }

    /// Hands the record with this id (nil when there is none) to `body`; a failed read is
    /// logged, and `body` is not called.
    func withStoredRecord(id: String, _ body: (RequestRecord?) -> Void) {
        let record: RequestRecord?
        do {
            record = try store.record(id: id)
        } catch {
            logger.error("store read failed", metadata: ["request.id": "\(id)", "error": "\(error)"])
            return
        }
        body(record)
    }

    /// On the network thread after a run of messages (before their PUBACKs are written), or
    /// when a submission arrived: records what was received, with the outcomes and delivery
    /// marks waiting in ``commits``, in one transaction, so once acknowledged none can be lost.
    func acceptInbound() {
        var items = inbound.take()
        commits.drain { work in
            commit(items, work)
            items = []
        }
        cancelForDevices()
    }

    /// Queues a submission for the next group commit and waits for the engine's answer.
    func submit(_ arrival: Arrival) async -> SubmitOutcome {
        await withCheckedContinuation { continuation in
            let item = InboundQueue.Item(arrival: arrival) { continuation.resume(returning: $0) }
            guard inbound.append(item) else {
                continuation.resume(returning: .refused(.unavailable, message: "the bridge is stopping"))
                return
            }
            onNetworkThread { self.acceptInbound() }
        }
    }

    /// Whether a request may go to a worker: one is present, or the bridge has just subscribed
    /// to presence and the retained messages may still be on their way (a restarted bridge
    /// reads the requests queued for it first). The send then finds out: with no worker
    /// subscribed the broker's "no matching subscribers" gives 503.
    func mayHaveWorker(for operation: String) -> Bool {
        unixMillis() < presenceSettlesAt.load(ordering: .relaxed) || dispatcher.hasWorker(for: operation)
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
