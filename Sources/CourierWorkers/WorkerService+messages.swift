import CourierCore
import Logging

extension WorkerService {
    /// Logging metadata for one request.
    static func metadata(_ request: HandlerRequest) -> Logger.Metadata {
        [
            "request.id": "\(request.requestID)",
            "device.id": "\(request.device)",
            "operation": "\(request.operation)",
            "attempt": "\(request.attempt)",
        ]
    }
}
