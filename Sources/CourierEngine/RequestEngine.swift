import CourierCore
import Foundation

/// Every decision of a request's life (SPEC's state machine) as plain values: admission and
/// validation, duplicates, quotas, worker presence, attempts, retries and backoff, deadlines,
/// worker results, cancel, replay, delivery and dead letters.
///
/// Events go in as method calls, effects come out as ``Effect`` values for the shell to carry
/// out (store, publish, dispatch, count, log). The engine does no I/O and keeps no state: the
/// store holds every request, and the time of each event is passed in. A class of constants
/// rather than a struct: the shell calls it for every event, and a value this size (the whole
/// configuration) was copied, every field retained, for each call.
package final class RequestEngine: Sendable {
    package let configuration: CourierConfiguration
    package let topics: Topics
    let intake: RequestIntake
    /// A random whole number from 0 through the given ceiling, for backoff jitter.
    let jitter: @Sendable (Int64) -> Int64

    package init(
        configuration: CourierConfiguration,
        jitter: @escaping @Sendable (Int64) -> Int64 = { Int64.random(in: 0...$0) }
    ) {
        self.configuration = configuration
        topics = configuration.topics
        intake = RequestIntake(configuration: configuration)
        self.jitter = jitter
    }

    /// When an attempt of `record` started at `now` times out: after its operation's (or
    /// command's) `attemptTimeout`; the last attempt at the deadline, so a slow last attempt
    /// still has the whole deadline.
    package func attemptWake(attempt: Int, now: Int64, of record: RequestRecord) -> Int64 {
        guard let settings = configuration.settings(for: record.kind, record.operation), attempt < settings.maxAttempts else {
            return record.deadline
        }
        return min(now + settings.attemptTimeout.milliseconds, record.deadline)
    }

    /// Full-jitter exponential backoff before attempt `attempt + 1`: up to 100 ms, 200 ms,
    /// 400 ms... capped at 2 s.
    package func backoff(afterAttempt attempt: Int) -> Int64 {
        jitter(Int64(min(2000, 100 << min(max(attempt - 1, 0), 5))))
    }

    /// An operation name fit for a metric label: names of unconfigured operations come from
    /// devices, and would make label values unbounded.
    func metricLabel(_ operation: String) -> String {
        configuration.operation(named: operation) == nil ? "unknown" : operation
    }

    /// The final outcome of an error the bridge decides (504, 503, 410, 400).
    static func errorOutcome(_ id: String, _ code: ReplyCode, _ message: String, state: RequestState) -> FinalOutcome {
        let reply = StoredReply(
            status: code.status,
            code: code.rawValue,
            payload: ErrorBody(code, message: message).encoded(),
            contentType: ErrorBody.contentType,
            reason: state == .failed ? code.rawValue : nil
        )
        return FinalOutcome(id: id, state: state, reply: reply)
    }
}
