import CourierCore
import Foundation

/// What became of one attempt handed to a worker.
package enum DispatchOutcome: Sendable {
    /// A worker has it (or, over MQTT, the broker accepted it for a subscribed worker).
    case sent
    /// Nobody took it: no worker is subscribed.
    case noWorker
    /// It was not sent. `permanent` when sending it again would fail the same way (too large
    /// for the broker, malformed).
    case failed(String, permanent: Bool)
}

/// What became of one reply handed to the broker.
package enum PublishOutcome: Sendable {
    case acknowledged
    /// Not published; `permanent` as for ``DispatchOutcome/failed(_:permanent:)``.
    case failed(String, permanent: Bool)
}

extension RequestEngine {
    /// The shell tried to hand an attempt of `id` (for `operation`) to a worker.
    package func dispatched(id: String, operation: String, _ outcome: DispatchOutcome) -> [Effect] {
        switch outcome {
        case .sent:
            return []
        case .noWorker:
            return [.finish(Self.errorOutcome(id, .noWorker, "no live worker serves \(operation)", state: .failed))]
        case .failed(let error, permanent: true):
            // The same message would fail again on every retry.
            return [
                .log(LogLine(.error, "request cannot be sent to a worker", ["request.id": id, "error": error])),
                .finish(Self.errorOutcome(id, .badRequest, "the request cannot be forwarded to a worker: \(error)", state: .failed)),
            ]
        case .failed(let error, permanent: false):
            // Left to the attempt timer.
            return [.log(LogLine(.warning, "dispatch failed", ["request.id": id, "error": error]))]
        }
    }

    /// The broker answered the publish of `reply`; `recordID` is set for a stored final reply.
    package func published(_ reply: DeviceReply, recordID: String?, _ outcome: PublishOutcome) -> [Effect] {
        switch outcome {
        case .acknowledged:
            return recordID.map { [.markDelivered($0)] } ?? []
        case .failed(let error, permanent: true):
            // Publishing it again would fail the same way: given up, so that neither the
            // delivery sweep nor a restart replays it for ever. The device still gets a final
            // answer: a short 500 in its place, once.
            var effects: [Effect] = [
                .count(.undeliverable),
                .log(LogLine(.error, "reply cannot be published", ["mqtt.topic": reply.topic, "status": "\(reply.status)", "error": error])),
            ]
            if let recordID {
                effects.append(.markDelivered(recordID))
                effects.append(.reply(reply.undeliverable(because: error), recordID: nil))
            }
            return effects
        case .failed(let error, permanent: false):
            // A final reply is still undelivered in the store: the delivery sweep sends it again.
            return [.log(LogLine(.warning, "reply not published", ["mqtt.topic": reply.topic, "error": error]))]
        }
    }

    /// A stored final reply the broker never acknowledged (after a crash, a broker outage):
    /// published again.
    package func redeliver(_ record: RequestRecord) -> [Effect] {
        guard let reply = DeviceReply.final(for: record, topics: topics) else { return [.markDelivered(record.id)] }
        return [.reply(reply, recordID: record.id)]
    }
}
