import CourierCore
import Foundation

/// The status JSON of one request, as `GET /v1/requests/{id}` and the 202 answers give it.
///
/// Timestamps are unix milliseconds (UTC), like every stored timestamp, the dead-letter JSON and
/// the `courier-deadline` user property. Fields without a value are present as `null`, so every
/// answer has the same shape.
///
/// ```json
/// {"attempts":1,"deadline":1767225610000,"deliveredAt":null,"device":"thermo-1","id":"9f3c...",
///  "operation":"echo","progress":{"at":1767225601000,"message":"half way","percent":50},
///  "reason":null,"receivedAt":1767225600000,"replyCode":null,"replyStatus":null,
///  "state":"dispatched","updatedAt":1767225600004}
/// ```
package struct RequestStatus: Codable, Sendable, Equatable {
    /// The bridge's request id.
    package var id: String
    package var device: String
    package var operation: String
    /// `received`, `dispatched`, `completed`, `delivered`, `rejected`, `expired`, `failed` or
    /// `cancelled`.
    package var state: RequestState
    /// Worker attempts made so far.
    package var attempts: Int
    /// Unix milliseconds.
    package var receivedAt: Int64
    /// Unix milliseconds of the last change.
    package var updatedAt: Int64
    /// Unix milliseconds after which the request is answered 504.
    package var deadline: Int64
    /// The final reply's HTTP-style status; null while pending, but 202 for a command its
    /// device acknowledged.
    package var replyStatus: Int?
    /// The final reply's code (`ok`, `timeout`, `cancelled`, ...); null while pending.
    package var replyCode: String?
    /// Unix milliseconds at which the final reply was delivered (acknowledged by the broker, or
    /// stored for a request that has no one to publish to); null before.
    package var deliveredAt: Int64?
    /// Why a dead letter is one, or where a replay came from; usually null.
    package var reason: String?
    /// The worker's latest progress while the request is being worked, as the bridge that
    /// took it knows it; null otherwise.
    package var progress: Progress?
    /// `request` (a device's, for a worker) or `command` (for a device).
    package var kind: RequestKind
    /// A command's state in SPEC's words: `queued`, `sent`, `acknowledged` (the device said 202),
    /// `completed`, `expired`, `failed`, `cancelled` or `rejected`; null for a request.
    package var commandState: String?

    /// A worker's progress report (status 102), as status queries and event streams show it.
    package struct Progress: Codable, Sendable, Equatable {
        /// 0-100, when the worker gave one.
        package var percent: Int?
        /// The worker's text, when its payload is UTF-8.
        package var message: String?
        /// Unix milliseconds when the bridge received it.
        package var at: Int64

        package init(_ report: ProgressReport) {
            percent = report.percent
            message = String(validating: report.payload, as: UTF8.self)
            at = report.at
        }
    }

    package init(_ record: RequestRecord, progress: ProgressReport? = nil) {
        id = record.id
        device = record.device
        operation = record.operation
        state = record.state
        attempts = record.attempts
        receivedAt = record.receivedAt
        updatedAt = record.updatedAt
        deadline = record.deadline
        replyStatus = record.replyStatus
        replyCode = record.replyCode
        deliveredAt = record.deliveredAt
        reason = record.reason
        self.progress = record.state.isFinal ? nil : progress.map(Progress.init)
        kind = record.kind
        commandState = record.kind == .command ? Self.commandState(record) : nil
    }

    /// A command's state name for a record of a command.
    static func commandState(_ record: RequestRecord) -> String {
        switch record.state {
        case .received: "queued"
        case .dispatched: record.replyStatus == 202 ? "acknowledged" : "sent"
        case .completed, .delivered: "completed"
        case .rejected, .expired, .failed, .cancelled: record.state.rawValue
        }
    }

    private enum CodingKeys: String, CodingKey {
        case id, device, operation, state, attempts, receivedAt, updatedAt, deadline
        case replyStatus, replyCode, deliveredAt, reason, progress, kind, commandState
    }

    // Written by hand so that absent values are explicit `null`s rather than missing keys.
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(device, forKey: .device)
        try container.encode(operation, forKey: .operation)
        try container.encode(state, forKey: .state)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(receivedAt, forKey: .receivedAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(deadline, forKey: .deadline)
        try container.encode(replyStatus, forKey: .replyStatus)
        try container.encode(replyCode, forKey: .replyCode)
        try container.encode(deliveredAt, forKey: .deliveredAt)
        try container.encode(reason, forKey: .reason)
        try container.encode(progress, forKey: .progress)
        try container.encode(kind, forKey: .kind)
        try container.encode(commandState, forKey: .commandState)
    }
}
