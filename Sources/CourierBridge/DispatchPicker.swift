/// Direct dispatch's choice of worker, as a plain value: the live worker with the most free
/// capacity (announced concurrency minus the attempts this bridge has in flight with it), and
/// for a retry another worker than the previous attempt's whenever there is one.
struct DispatchPicker: Sendable {
    struct Candidate: Sendable, Equatable {
        var id: String
        var concurrency: Int
        var inFlight: Int

        var free: Int { concurrency - inFlight }
    }

    /// The chosen worker's id; nil when there is no candidate. Ties go to the worker with fewer
    /// attempts in flight, then to the lower id, so the choice is deterministic.
    static func pick(_ candidates: [Candidate], avoiding previous: String? = nil) -> String? {
        let others = candidates.filter { $0.id != previous }
        let pool = others.isEmpty ? candidates : others
        return pool.min { a, b in
            if a.free != b.free { return a.free > b.free }
            if a.inFlight != b.inFlight { return a.inFlight < b.inFlight }
            return a.id < b.id
        }?.id
    }
}
