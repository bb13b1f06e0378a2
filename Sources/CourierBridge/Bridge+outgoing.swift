import CourierCore
import CourierEngine
import CourierStore
import CourierWorkers
import Foundation
import MQTT

extension Bridge {
    /// The most replies and dead letters handed to the MQTT client and not yet acknowledged.
    /// Beyond it a final reply waits in the store for the delivery sweep, and a transient reply
    /// or dead letter is dropped (counted): memory stays bounded when the broker stalls.
    /// Attempts have their own, smaller bound (``dispatchWindow``).
    static let maxOutgoing = 50_000

    /// The most attempts handed to the MQTT client at once (see ``DispatchWindow``); the
    /// brokers' configs shipped here let 1,000 QoS 1 messages be in flight per client.
    static let dispatchWindow = 1000

    /// Starts the next attempt of a request waiting in `received`, unless the other path did.
    func startAttempt(id: String, afterAttempts: Int, wakeAt: Int64) {
        let claimed: RequestRecord?
        do {
            claimed = try store.claimAttempt(id: id, afterAttempts: afterAttempts, wakeAt: wakeAt, now: unixMillis())
        } catch {
            logger.error("store write failed", metadata: ["request.id": "\(id)", "error": "\(error)"])
            return
        }
        if let claimed { send(claimed) }
    }

    /// Hands a started attempt to a worker, now or when the dispatch window has room. If it
    /// cannot be sent the attempt timer retries it.
    func send(_ claimed: RequestRecord) {
        guard window.admit(claimed.id) else { return }
        dispatch(claimed)
    }

    /// Dispatches an attempt that holds a place in the window; once the client has taken it,
    /// the place goes to the next waiting attempt.
    private func dispatch(_ claimed: RequestRecord) {
        outgoing.add(1, ordering: .relaxed)
        if claimed.kind == .command {
            let id = claimed.id, command = claimed.operation
            deliverCommand(claimed) { [self] outcome in
                outgoing.subtract(1, ordering: .relaxed)
                perform(engine.commandSent(id: id, command: command, outcome))
                dispatchNextWaiting()
            }
            return
        }
        let item = HandlerRequest(
            requestID: claimed.id,
            device: claimed.device,
            operation: claimed.operation,
            attempt: claimed.attempts,
            deadline: claimed.deadline,
            payload: claimed.payload,
            contentType: claimed.contentType,
            payloadFormatIndicator: claimed.payloadFormatIndicator,
            userProperties: claimed.userProperties
        )
        // The completion holds the id and operation only: it waits as long as the attempt is
        // in flight, and with many pending a whole record each would add up.
        let id = claimed.id, operation = claimed.operation
        dispatcher.dispatch(item) { [self] outcome in
            outgoing.subtract(1, ordering: .relaxed)
            perform(engine.dispatched(id: id, operation: operation, outcome))
            dispatchNextWaiting()
        }
    }

    /// Hands a freed place to the next waiting attempt that is still in flight in the store.
    private func dispatchNextWaiting() {
        while let id = window.release() {
            do {
                if let record = try store.record(id: id), record.state == .dispatched {
                    dispatch(record)
                    return
                }
            } catch {
                // Left to its attempt timer.
                logger.error("store read failed", metadata: ["request.id": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// Publishes a reply to a device. A final one (`recordID` set) is published once at a time
    /// and marked delivered on PUBACK; if it fails the delivery sweep publishes it again.
    func publish(_ reply: DeviceReply, recordID: String?) {
        if let recordID, !deliveries.begin(recordID) { return }  // already on its way
        guard reserveOutgoing() else {
            if let recordID { deliveries.end([recordID]) }
            return
        }
        let properties = MQTTProperties(
            correlationData: reply.correlationData,
            contentType: reply.contentType,
            userProperties: reply.userProperties
        )
        let qos: MQTTQoS = configuration.replyQoS > 0 ? .atLeastOnce : .atMostOnce
        client.publish(reply.topic, payload: reply.payload, qos: qos, properties: properties) { [self] result in
            outgoing.subtract(1, ordering: .relaxed)
            let outcome: PublishOutcome
            switch result {
            case .success: outcome = .acknowledged
            case .failure(let error): outcome = .failed("\(error)", permanent: error.isPermanent)
            }
            // Released for the delivery sweep to publish it again.
            if case .failed(_, permanent: false) = outcome, let recordID { deliveries.end([recordID]) }
            perform(engine.published(reply, recordID: recordID, outcome))
        }
    }

    /// Publishes a progress reply (102). Nothing is stored or retried: a lost one is
    /// overtaken by the next, or by the final reply.
    func publishProgress(_ reply: DeviceReply) {
        guard reserveOutgoing() else { return }
        let properties = MQTTProperties(
            correlationData: reply.correlationData, contentType: reply.contentType, userProperties: reply.userProperties)
        let qos: MQTTQoS = configuration.replyQoS > 0 ? .atLeastOnce : .atMostOnce
        client.publish(reply.topic, payload: reply.payload, qos: qos, properties: properties) { [self] _ in
            outgoing.subtract(1, ordering: .relaxed)
        }
    }

    func publishDeadLetter(_ record: RequestRecord) {
        guard reserveOutgoing() else { return }
        let id = record.id
        client.publish(topics.deadLetters(record.operation), payload: DeadLetter(record).encoded(), qos: .atLeastOnce) { [self] result in
            outgoing.subtract(1, ordering: .relaxed)
            if case .failure(let error) = result {
                logger.warning("dead letter not published", metadata: ["request.id": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// Counts one more publish in flight; false (counted as dropped) when at ``maxOutgoing``.
    private func reserveOutgoing() -> Bool {
        if outgoing.add(1, ordering: .relaxed).newValue <= Self.maxOutgoing { return true }
        outgoing.subtract(1, ordering: .relaxed)
        metrics.deferred.increment()
        return false
    }
}
