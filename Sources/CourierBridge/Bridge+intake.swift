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
            guard let reply = WorkMessage.decodeResult(message) else {
                perform([.count(.ignoredWorkerReply), .log(LogLine(.warning, "worker reply without correlation data ignored"))])
                return
            }
            if let status = reply.invalidStatus {
                logger.warning("worker reply with an invalid status", metadata: ["request.id": "\(reply.requestID)", "status": "\(status)"])
            }
            let result = reply.result
            if reply.isFinal { dispatcher.attemptEnded(requestID: reply.requestID) }
            perform(engine.workerReplied(
                requestID: reply.requestID, status: result.status, payload: result.payload,
                contentType: result.contentType, userProperties: result.userProperties
            ))
        } else if message.topic.hasPrefix(topics.presencePrefix + "/") {
            directory.update(workerID: String(message.topic.dropFirst(topics.presencePrefix.count + 1)), payload: message.payload)
        } else {
            _ = inbound.append(.init(arrival: .device(IncomingRequest(message))))
        }
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
