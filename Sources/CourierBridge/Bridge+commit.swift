import CourierCore
import CourierEngine
import CourierStore
import Foundation

/// Store work the bridge group-commits (see ``Bridge/commit(_:_:)``).
enum StoreWork: Sendable {
    /// A final outcome, stored only if the request is still pending.
    case outcome(FinalOutcome)
    /// The broker acknowledged this record's final reply. Not urgent: committed with the next
    /// batch, or by the timer loop within a tick.
    case delivered(String)
}

extension Bridge {
    /// One group commit, on the network thread: admits what arrived, records it with the final
    /// outcomes and delivery marks in one transaction, then carries out what the engine makes
    /// of the store's answers.
    func commit(_ items: [InboundQueue.Item], _ batch: [StoreWork]) {
        let now = unixMillis()
        let conditions = self.conditions
        var admitted: [(Admitted, InboundQueue.Item)] = []
        admitted.reserveCapacity(items.count)
        for item in items {
            switch engine.admit(item.arrival, now: now, conditions: conditions) {
            case .done(let effects):
                perform(effects, respond: item.respond)
            case .lookUp(let request):
                perform(engine.withoutWorker(request, existing: storedRecord(identity: request.record.identity)), respond: item.respond)
            case .store(let request):
                admitted.append((request, item))
            }
        }
        var outcomes: [FinalOutcome] = []
        var delivered: [String] = []
        for work in batch {
            switch work {
            case .outcome(let outcome): outcomes.append(outcome)
            case .delivered(let id): delivered.append(id)
            }
        }
        guard !admitted.isEmpty || !outcomes.isEmpty || !delivered.isEmpty else { return }
        let started = ContinuousClock.now
        let result: (accepted: [AcceptOutcome], finished: [RequestRecord?])
        do {
            result = try store.commit(
                accepting: admitted.map(\.0.record),
                maxPendingPerDevice: configuration.limits.maxPendingPerDevice,
                maxPendingTotal: configuration.limits.maxPendingTotal,
                finishing: outcomes,
                markingDelivered: delivered,
                now: now
            )
        } catch {
            // Requests are answered 503; outcomes are retried by the attempt timers, replies
            // published again by the delivery sweep.
            logger.error("store write failed", metadata: ["requests": "\(admitted.count)", "outcomes": "\(outcomes.count)", "error": "\(error)"])
            storeAnswered(false)
            deliveries.end(delivered)
            for (request, item) in admitted { perform(engine.stored(request, nil, now: now), respond: item.respond) }
            return
        }
        metrics.storeWrite(since: started)
        storeAnswered(true)
        deliveries.end(delivered)
        for ((request, item), outcome) in zip(admitted, result.accepted) {
            perform(engine.stored(request, outcome, now: now), respond: item.respond)
        }
        for (outcome, record) in zip(outcomes, result.finished) {
            perform(engine.outcomeStored(outcome, record: record, now: now))
        }
    }

    /// Records whether the store answered a write: readiness (`/readyz`) and its gauge follow.
    /// Returns whether it had not before.
    @discardableResult
    func storeAnswered(_ answered: Bool) -> Bool {
        metrics.storeReachable.record(answered ? 1 : 0)
        return storeReachable.exchange(answered, ordering: .relaxed) != answered
    }

    /// The stored request with this identity, for a duplicate that no worker could serve.
    private func storedRecord(identity: String?) -> RequestRecord? {
        guard let identity else { return nil }
        do {
            return try store.record(identity: identity)
        } catch {
            logger.error("store read failed", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Stores a final outcome at once, on the network thread, and carries out its effects; the
    /// stored record, nil when the request was no longer pending or the store failed.
    func finishNow(_ outcome: FinalOutcome) -> RequestRecord? {
        let now = unixMillis()
        do {
            guard let record = try store.finish([outcome], now: now)[0] else { return nil }
            perform(engine.outcomeStored(outcome, record: record, now: now))
            return record
        } catch {
            logger.error("store write failed", metadata: ["request.id": "\(outcome.id)", "error": "\(error)"])
            return nil
        }
    }
}
