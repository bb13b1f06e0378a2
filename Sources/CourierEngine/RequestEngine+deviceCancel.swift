import CourierCore
import Foundation

extension RequestEngine {
    /// The identity of the request a device's cancel names, to look it up by: the device and
    /// the message's Correlation Data for MQTT 5 (`devices/{device}/cancel`), the device,
    /// operation and request id for 3.1.1 (`.../cancel/{operation}/{requestId}`). Nil when the
    /// message names none (an MQTT 5 cancel without Correlation Data).
    package func cancelIdentity(_ topic: ParsedCancelTopic, correlationData: Data?) -> String? {
        var named = RequestRecord(
            id: "", device: topic.device, operation: topic.operation ?? "", deviceProtocol: .mqtt5, receivedAt: 0, deadline: 0)
        if let requestId = topic.requestId {
            named.deviceProtocol = .mqtt311
            named.requestId = requestId
        } else {
            named.correlationData = correlationData
        }
        return RequestIntake.identity(of: named)
    }

    /// A device cancels its own request: the request found by ``cancelIdentity(_:correlationData:)``
    /// (nil when none is stored). A pending one ends `cancelled` with a 410 reply, as an
    /// operator's cancel does; a cancel naming nothing pending is ignored and counted.
    package func deviceCancelled(_ record: RequestRecord?, device: String) -> [Effect] {
        guard let record, !record.state.isFinal, record.device == device else {
            return [
                .count(.ignoredCancel),
                .log(LogLine(.debug, "device cancel ignored: no such pending request", ["device.id": device, "request.id": record?.id ?? ""])),
            ]
        }
        return [.finish(Self.errorOutcome(record.id, .cancelled, "cancelled by the device", state: .cancelled))]
    }
}
