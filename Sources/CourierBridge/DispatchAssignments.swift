/// Which worker direct dispatch gave each request's attempt, and how many attempts each worker
/// has in flight from this bridge: a plain value, held under the dispatcher's lock.
///
/// An ended attempt stays known (not counted) until the request's deadline, so that its retry
/// can avoid the worker that had it; ``prune(now:)`` forgets what is past its deadline, so the
/// value is bounded by the requests within their deadlines.
struct DispatchAssignments: Sendable {
    private struct Assignment: Sendable {
        var worker: String
        var deadline: Int64
        var active: Bool
    }

    private var assignments: [String: Assignment] = [:]
    private var inFlight: [String: Int] = [:]

    /// Attempts in flight with a worker.
    func inFlight(_ worker: String) -> Int { inFlight[worker] ?? 0 }

    /// The worker that had the request's latest attempt.
    func worker(of requestID: String) -> String? { assignments[requestID]?.worker }

    /// Requests known, in flight or ended within their deadline.
    var count: Int { assignments.count }

    /// Records an attempt sent to `worker`; a previous attempt of the request still counted
    /// ends.
    mutating func assign(_ requestID: String, to worker: String, deadline: Int64) {
        end(requestID)
        assignments[requestID] = Assignment(worker: worker, deadline: deadline, active: true)
        inFlight[worker, default: 0] += 1
    }

    /// The request's attempt is over: its worker has one fewer in flight.
    mutating func end(_ requestID: String) {
        guard let assignment = assignments[requestID], assignment.active else { return }
        assignments[requestID]?.active = false
        let left = (inFlight[assignment.worker] ?? 1) - 1
        inFlight[assignment.worker] = left > 0 ? left : nil
    }

    /// Forgets requests whose deadline has passed (ending their attempts, if still counted).
    mutating func prune(now: Int64) {
        for (id, assignment) in assignments where assignment.deadline < now {
            end(id)
            assignments[id] = nil
        }
    }
}
