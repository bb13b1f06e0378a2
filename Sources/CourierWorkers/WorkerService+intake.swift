import CourierCore
import Foundation
import Logging
import MQTT

extension WorkerService {
    /// Takes work messages on the work connection's network thread and starts each in the pool
    /// there, so a handler that ``OperationHandler/startsImmediately`` answers without a thread
    /// hand-off, as `courier serve` does; other handlers run in tasks of their own.
    ///
    /// It holds at most `limit` attempts (the pool's concurrency plus the backlog). When it is
    /// full the network thread waits for one to finish and reads nothing meanwhile, so the
    /// rest wait in the broker. It waits at most `overflowWait`, the connection's
    /// ``MQTTConfiguration/inboundOverflowWait``, so that keep-alives still go out: past that
    /// it takes the message anyway, to wait in the pool's queue, and logs it.
    ///
    /// The attempts start in tasks of their own, outside the caller's task tree: ``close()``
    /// cancels those still running, as cancelling the service's run cancels its work.
    ///
    /// `@unchecked Sendable`: every mutable field is read and written only with `condition`
    /// locked.
    final class WorkIntake: @unchecked Sendable {
        private let pool: WorkerPool
        private let lifecycle: Lifecycle
        private let limit: Int
        private let overflowWait: Duration
        private let logger: Logger
        private let condition = NSCondition()
        private var client: MQTTClient?
        private var held = 0
        /// The requests held, with how many attempts of each (a retry may come while an
        /// earlier attempt still runs).
        private var requests: [String: Int] = [:]
        private var closed = false

        init(pool: WorkerPool, lifecycle: Lifecycle, limit: Int, overflowWait: Duration, logger: Logger) {
            self.pool = pool
            self.lifecycle = lifecycle
            self.limit = max(1, limit)
            self.overflowWait = overflowWait
            self.logger = logger
        }

        /// The client replies go out on; set before it connects.
        func attach(_ client: MQTTClient) {
            condition.lock()
            self.client = client
            condition.unlock()
        }

        /// Takes no more work, wakes a network thread waiting for room (so that the client can
        /// shut down) and cancels the attempts still running: their answers would find no
        /// connection.
        func close() {
            condition.lock()
            closed = true
            let running = requests.keys
            condition.broadcast()
            condition.unlock()
            for requestID in running { pool.cancel(requestID: requestID) }
        }

        /// The client's message hook: one work message, on the network thread.
        func receive(_ message: MQTTMessage) {
            let work: WorkMessage.Work
            do {
                work = try WorkMessage.decodeRequest(message, now: unixMillis())
            } catch {
                logger.info("work message ignored", metadata: ["mqtt.topic": "\(message.topic)", "error": "\(error)"])
                return
            }
            guard lifecycle.enter() else {
                logger.debug("worker stopped: work message left to the bridge's retry", metadata: work.request.logMetadata)
                return
            }
            guard let client = takeSlot(for: work) else {
                lifecycle.leave()
                return
            }
            if work.request.deadline <= unixMillis() {
                logger.debug("deadline passed: work dropped", metadata: work.request.logMetadata)
                releaseSlot(work.request.requestID)
                lifecycle.leave()
                return
            }
            start(work, client)
        }

        /// Waits for room as long as the keep-alive allows; nil once closed.
        private func takeSlot(for work: WorkMessage.Work) -> MQTTClient? {
            condition.lock()
            defer { condition.unlock() }
            let deadline = Date(timeIntervalSinceNow: Double(overflowWait.milliseconds) / 1000)
            while held >= limit, !closed, condition.wait(until: deadline) {}
            guard !closed, let client else { return nil }
            if held >= limit {
                logger.info(
                    "worker full for \(overflowWait): work message taken beyond concurrency + backlog",
                    metadata: work.request.logMetadata.merging(["worker.held": "\(held)"]) { _, new in new }
                )
            }
            held += 1
            requests[work.request.requestID, default: 0] += 1
            return client
        }

        private func releaseSlot(_ requestID: String) {
            condition.lock()
            held -= 1
            if let count = requests[requestID], count > 1 {
                requests[requestID] = count - 1
            } else {
                requests[requestID] = nil
            }
            condition.signal()
            condition.unlock()
        }

        /// Runs one request and publishes its progress and its reply to the bridge (nothing once
        /// it was cancelled). Its place is freed once the handler is done; the lifecycle lets
        /// go of it when the broker has acknowledged the reply (or it failed), so a draining
        /// worker still waits for its replies to leave.
        private func start(_ work: WorkMessage.Work, _ client: MQTTClient) {
            let (logger, lifecycle) = (logger, self.lifecycle)
            pool.start(work.request) { update in
                let report = WorkMessage.encodeProgress(update, correlationData: work.correlationData)
                client.publish(work.responseTopic, payload: report.payload, qos: .atLeastOnce, properties: report.properties) { outcome in
                    if case .failure(let error) = outcome {
                        logger.debug("progress not published", metadata: work.request.logMetadata.merging(["error": "\(error)"]) { _, new in new })
                    }
                }
            } completion: { [self] outcome in
                releaseSlot(work.request.requestID)
                guard case .answered(let result) = outcome else {
                    logger.debug("request cancelled: no answer published", metadata: work.request.logMetadata)
                    lifecycle.leave()
                    return
                }
                let reply = WorkMessage.encodeResult(result, correlationData: work.correlationData)
                client.publish(work.responseTopic, payload: reply.payload, qos: .atLeastOnce, properties: reply.properties) { outcome in
                    defer { lifecycle.leave() }
                    var metadata = work.request.logMetadata
                    switch outcome {
                    case .success(let ack) where !ack.isDelivered:
                        metadata["mqtt.reason_code"] = "\(ack.reasonCode)"
                        logger.info("reply not delivered: nobody subscribes to the response topic", metadata: metadata)
                    case .success:
                        break
                    case .failure(let error):
                        metadata["error"] = "\(error)"
                        logger.info("reply could not be published", metadata: metadata)
                    }
                }
            }
        }
    }
}
