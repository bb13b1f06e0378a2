import CourierCore
import CourierStore

/// The single-record forms the tests use, written with the protocol's group commits only, so
/// that they work on every store.
extension RequestStore {
    /// Inserts with quotas that never bite, returning the outcome.
    @discardableResult
    func insert(_ record: RequestRecord) throws -> AcceptOutcome {
        try accept(record, maxPendingPerDevice: .max, maxPendingTotal: .max)
    }

    func accept(_ record: RequestRecord, maxPendingPerDevice: Int, maxPendingTotal: Int) throws -> AcceptOutcome {
        try accept([record], maxPendingPerDevice: maxPendingPerDevice, maxPendingTotal: maxPendingTotal)[0]
    }

    func accept(_ records: [RequestRecord], maxPendingPerDevice: Int, maxPendingTotal: Int) throws -> [AcceptOutcome] {
        try commit(
            accepting: records, maxPendingPerDevice: maxPendingPerDevice, maxPendingTotal: maxPendingTotal,
            finishing: [], markingDelivered: [], now: 0
        ).accepted
    }

    func finish(
        id: String, state: RequestState, reply: StoredReply, onlyFrom: [RequestState], now: Int64, delivered: Bool = false
    ) throws -> RequestRecord? {
        try finish([FinalOutcome(id: id, state: state, reply: reply, onlyFrom: onlyFrom, delivered: delivered)], now: now)[0]
    }

    func markDelivered(ids: [String], now: Int64) throws {
        _ = try finish([], markingDelivered: ids, now: now)
    }

    /// The device's pending count as its quota check sees it: a request of that device offered
    /// with a quota of 0 is refused with the count, and nothing is stored.
    func pendingCount(device: String) throws -> Int {
        let probe = RequestRecord(id: "quota-probe", device: device, operation: "probe", deviceProtocol: .http, receivedAt: 0, deadline: 0)
        guard case .deviceOverQuota(let pending) = try accept(probe, maxPendingPerDevice: 0, maxPendingTotal: .max) else {
            preconditionFailure("a quota of 0 refuses every request")
        }
        return pending
    }
}
