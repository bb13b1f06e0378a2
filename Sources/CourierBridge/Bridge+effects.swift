import CourierCore
import CourierEngine
import Foundation
import Logging

extension Bridge {
    /// Carries out the engine's effects, in order. `respond` answers the caller of a
    /// submission the effects belong to.
    func perform(_ effects: [Effect], respond: (@Sendable (SubmitOutcome) -> Void)? = nil) {
        for effect in effects {
            switch effect {
            case .reply(let reply, let recordID):
                publish(reply, recordID: recordID)
            case .deadLetter(let record):
                publishDeadLetter(record)
            case .dispatch(let record):
                watchers.notify(record.id, .changed(record))
                send(record)
            case .finish(let outcome):
                if !commits.submit(.outcome(outcome)) {
                    // Its attempt timer, or the deadline, ends the request later.
                    metrics.count(.ignoredWorkerReply)
                    logger.warning("outcome dropped: commit queue full", metadata: ["request.id": "\(outcome.id)"])
                }
            case .markDelivered(let id):
                if !commits.submit(.delivered(id), urgent: false) { deliveries.end([id]) }
            case .startAttempt(let id, let afterAttempts, let wakeAt):
                startAttempt(id: id, afterAttempts: afterAttempts, wakeAt: wakeAt)
            case .retry(let id, let attempt, let wakeAt):
                dispatcher.attemptEnded(requestID: id)
                do {
                    if let record = try store.requeue(id: id, attempt: attempt, wakeAt: wakeAt, now: unixMillis()) {
                        watchers.notify(id, .changed(record))
                    }
                } catch {
                    logger.error("store write failed", metadata: ["request.id": "\(id)", "error": "\(error)"])
                }
            case .extendAttempt(let id, let attempt, let wakeAt, let acknowledged):
                do {
                    _ = try store.extendAttempt(id: id, attempt: attempt, wakeAt: wakeAt, acknowledged: acknowledged, now: unixMillis())
                } catch {
                    logger.error("store write failed", metadata: ["request.id": "\(id)", "error": "\(error)"])
                }
            case .progress(let report, let reply, let deadline):
                if let reply = progress.update(report, reply: reply, until: deadline) { publishProgress(reply) }
                watchers.notify(report.requestID, .progress(report))
            case .cancelWork(let id):
                dispatcher.cancel(requestID: id)
            case .respond(let outcome):
                respond?(outcome)
            case .ended(let record):
                dispatcher.attemptEnded(requestID: record.id)
                progress.end(record.id)
                watchers.notify(record.id, .ended(record))
            case .count(let count):
                if count == .refusal { refused.add(1, ordering: .relaxed) }
                metrics.count(count)
            case .log(let line):
                log(line)
            }
        }
    }

    private func log(_ line: LogLine) {
        let level: Logger.Level =
            switch line.level {
            case .debug: .debug
            case .info: .info
            case .warning: .warning
            case .error: .error
            }
        guard logger.logLevel <= level else { return }
        logger.log(level: level, "\(line.message)", metadata: line.metadata.mapValues { .string($0) })
    }
}
