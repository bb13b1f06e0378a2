import CourierCore
import Foundation
import Synchronization

/// The live workers, from their retained presence messages on `courier/workers/{workerId}`.
/// Bounded by the number of worker processes, not by traffic.
final class WorkerDirectory: Sendable {
    private struct Presence: Decodable {
        var operations: [String]
    }

    private let workers = Mutex<[String: Set<String>]>([:])

    /// Applies a presence message: JSON with `operations`, or an empty payload (Will, shutdown)
    /// that removes the worker.
    func update(workerID: String, payload: Data) {
        let operations = payload.isEmpty ? nil : (try? JSONDecoder().decode(Presence.self, from: payload)).map { Set($0.operations) }
        workers.withLock { $0[workerID] = operations }
    }

    func serves(_ operation: String) -> Bool {
        workers.withLock { $0.values.contains { $0.contains(operation) } }
    }

    var count: Int { workers.withLock { $0.count } }
}
