import CourierCore
import Foundation
import MQTT

extension RequestEngine {
    /// Whether a worker's status is an interim one: 102 progress and 202 still working, which
    /// never end a request (see ``workerReported(status:percent:payload:contentType:record:now:)``).
    package static func isInterim(status: Int) -> Bool { status == 102 || status == 202 }

    /// A worker's interim reply to an attempt of `record` (nil when the store has no such
    /// request). Either renews the attempt timer, as a sign of life; 102 is also progress, kept
    /// for status queries and sent to the device (the shell keeps at most one per
    /// `progressInterval`, the latest). For a request no longer being worked it is ignored.
    package func workerReported(
        status: Int, percent: Int?, payload: Data, contentType: String?, record: RequestRecord?, now: Int64
    ) -> [Effect] {
        guard let record, record.state == .dispatched else {
            return [.count(.ignoredWorkerReply), .log(LogLine(.debug, "interim worker reply ignored", ["request.id": record?.id ?? ""]))]
        }
        var effects: [Effect] = [
            .extendAttempt(
                id: record.id, attempt: record.attempts, wakeAt: attemptWake(attempt: record.attempts, now: now, of: record),
                acknowledged: record.kind == .command && status == 202)
        ]
        if status == 102 {
            let percent = percent.map { min(100, max(0, $0)) }
            let report = ProgressReport(requestID: record.id, percent: percent, payload: payload, contentType: contentType, at: now)
            let reply = DeviceReply.make(
                for: record, status: 102, code: nil, payload: payload, contentType: contentType,
                extraProperties: percent.map { [UserProperty("progress", "\($0)")] } ?? [], topics: topics)
            effects.append(.progress(report, reply: reply, deadline: record.deadline))
        }
        return effects
    }
}
