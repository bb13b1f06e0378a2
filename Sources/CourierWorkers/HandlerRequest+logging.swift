import Logging

extension HandlerRequest {
    /// Logging metadata naming the request.
    var logMetadata: Logger.Metadata {
        [
            "request.id": "\(requestID)",
            "device.id": "\(device)",
            "operation": "\(operation)",
            "attempt": "\(attempt)",
        ]
    }
}
