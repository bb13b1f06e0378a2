import CourierCore
import Foundation

/// One Server-Sent Events frame of `GET /v1/requests/{id}/events`: an `id` (the unix ms of
/// the change, which a reconnecting client sends back as `Last-Event-ID`), an event name and
/// one line of JSON.
///
/// - `state`: the status JSON (``RequestStatus``) when the request is received or an attempt
///   starts;
/// - `progress`: a worker's progress (``RequestStatus/Progress``);
/// - `result`: the status JSON of the final state, with the reply's status and code; the
///   stream ends after it.
struct EventStreamFrame: Equatable {
    enum Kind: String {
        case state, progress, result
    }

    var id: Int64
    var kind: Kind
    var data: String

    static func status(_ record: RequestRecord, progress: ProgressReport? = nil) -> EventStreamFrame {
        EventStreamFrame(
            id: record.updatedAt, kind: record.state.isFinal ? .result : .state,
            data: Self.json(RequestStatus(record, progress: progress)))
    }

    static func progress(_ report: ProgressReport) -> EventStreamFrame {
        EventStreamFrame(id: report.at, kind: .progress, data: Self.json(RequestStatus.Progress(report)))
    }

    /// The frame as written on the wire, blank line included.
    var text: String { "id: \(id)\nevent: \(kind.rawValue)\ndata: \(data)\n\n" }

    private static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
