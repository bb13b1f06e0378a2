import CourierCore
import CourierStore
import Foundation
import MQTT

extension Bridge {
    /// Runs queued jobs, at most `limit` at once, until the queue is finished.
    func processJobs(limit: Int = 512) async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await job in jobs {
                if running >= limit {
                    await group.next()
                    running -= 1
                }
                jobsInFlight.add(1, ordering: .relaxed)
                group.addTask {
                    await self.perform(job)
                    self.jobsInFlight.subtract(1, ordering: .relaxed)
                }
                running += 1
            }
        }
    }

    private func perform(_ job: BridgeJob) async {
        switch job {
        case .dispatch(let record): await startAttempt(record)
        case .send(let record): await send(record)
        case .publish(let reply, let recordID): await publish(reply, recordID: recordID)
        case .deadLetter(let record): await publishDeadLetter(record)
        }
    }

    /// Starts the next attempt of a request waiting in `received`.
    private func startAttempt(_ record: RequestRecord) async {
        guard let operation = configuration.operation(named: record.operation) else { return }
        let now = unixMillis()
        let wake = min(now + operation.attemptTimeout.milliseconds, record.deadline)
        let claimed: RequestRecord?
        do {
            claimed = try store.claimAttempt(id: record.id, afterAttempts: record.attempts, wakeAt: wake, now: now)
        } catch {
            logger.error("store write failed", metadata: ["request.id": "\(record.id)", "error": "\(error)"])
            return
        }
        guard let claimed else { return }  // already started by the other path, or final
        await send(claimed)
    }

    /// Hands a started attempt to a worker.
    private func send(_ claimed: RequestRecord) async {
        let item = WorkItem(
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
        do {
            if try await dispatcher.dispatch(item) == false {
                finish(claimed.id, code: .noWorker, message: "no live worker serves \(claimed.operation)", state: .failed)
            }
        } catch {
            // The attempt timer retries it.
            logger.warning("dispatch failed", metadata: ["request.id": "\(claimed.id)", "error": "\(error)"])
        }
    }

    /// Publishes a reply to a device; a final one is marked delivered on PUBACK.
    private func publish(_ reply: DeviceReply, recordID: String?) async {
        let properties = MQTTProperties(
            correlationData: reply.correlationData,
            contentType: reply.contentType,
            userProperties: reply.userProperties.map { .init($0.name, $0.value) }
        )
        do {
            try await client.publish(reply.topic, payload: reply.payload, qos: configuration.replyQoS > 0 ? .atLeastOnce : .atMostOnce, properties: properties)
            if let recordID { deliveries.delivered(recordID) }
        } catch {
            if let recordID { deliveries.failed(recordID) }
            // Still undelivered in the store: the delivery sweep publishes it again.
            logger.warning("reply not published", metadata: ["mqtt.topic": "\(reply.topic)", "error": "\(error)"])
        }
    }

    private func publishDeadLetter(_ record: RequestRecord) async {
        metrics.deadLetters.increment()
        do {
            try await client.publish(topics.deadLetters(record.operation), payload: DeadLetter(record).encoded(), qos: .atLeastOnce)
        } catch {
            logger.warning("dead letter not published", metadata: ["request.id": "\(record.id)", "error": "\(error)"])
        }
    }
}
