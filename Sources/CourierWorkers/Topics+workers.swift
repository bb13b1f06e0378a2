import CourierCore

extension Topics {
    /// One worker's own work topic for an operation, used by direct dispatch:
    /// `courier/workers/{workerId}/work/{operation}`. Below the presence topic, out of reach of
    /// the presence filter `courier/workers/+`.
    public func directWork(workerID: String, operation: String) -> String {
        "\(presence(workerID))/work/\(operation)"
    }
}
