import CourierCore
import Foundation
import Synchronization

/// The live workers, from their retained presence messages on `courier/workers/{workerId}`.
/// Bounded by the number of worker processes, not by traffic.
final class WorkerDirectory: Sendable {
    /// What the directory keeps of a presence message. Read leniently (not as a whole
    /// `WorkerPresence`): a worker in another language may leave out what the bridge does not use.
    private struct Presence: Decodable {
        var operations: [String]
        var concurrency: Int?
    }

    /// A live worker as direct dispatch sees it.
    struct Worker: Sendable, Equatable {
        var id: String
        /// Its announced concurrency; 1 when it announced none.
        var concurrency: Int
    }

    private let workers = Mutex<[String: (operations: Set<String>, concurrency: Int)]>([:])

    /// Applies a presence message: JSON with `operations` (and `concurrency`), or an empty
    /// payload (Will, shutdown) that removes the worker.
    func update(workerID: String, payload: Data) {
        let presence = payload.isEmpty ? nil : try? JSONDecoder().decode(Presence.self, from: payload)
        workers.withLock { $0[workerID] = presence.map { (Set($0.operations), max(1, $0.concurrency ?? 1)) } }
    }

    /// Forgets a worker found gone before its presence was cleared; a presence message brings
    /// it back.
    func remove(_ workerID: String) {
        workers.withLock { $0[workerID] = nil }
    }

    func serves(_ operation: String) -> Bool {
        workers.withLock { $0.values.contains { $0.operations.contains(operation) } }
    }

    /// The live workers serving an operation.
    func workers(serving operation: String) -> [Worker] {
        workers.withLock { workers in
            workers.compactMap { id, worker in
                worker.operations.contains(operation) ? Worker(id: id, concurrency: worker.concurrency) : nil
            }
        }
    }

    var count: Int { workers.withLock { $0.count } }
}
