import CourierCore
import Logging

extension WorkerService {
    /// Logging metadata for one work item.
    static func metadata(_ item: WorkItem) -> Logger.Metadata {
        [
            "request.id": "\(item.requestID)",
            "device.id": "\(item.device)",
            "operation": "\(item.operation)",
            "attempt": "\(item.attempt)",
        ]
    }
}
