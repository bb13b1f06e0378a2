import Foundation

/// A reply to a device, addressed and encoded as the contract says, independent of transport.
public struct DeviceReply: Sendable, Equatable {
    public var topic: String
    public var payload: Data
    public var contentType: String?
    public var correlationData: Data?
    public var userProperties: [UserProperty]
    public var status: Int

    /// The reply for a record and a status, or nil when nothing can be published (HTTP
    /// requests, MQTT 5 requests without a Response Topic).
    public static func make(
        for record: RequestRecord,
        status: Int,
        code: String?,
        payload: Data,
        contentType: String?,
        extraProperties: [UserProperty] = [],
        topics: Topics
    ) -> DeviceReply? {
        let topic: String
        switch record.deviceProtocol {
        case .http:
            return nil
        case .mqtt5:
            guard let responseTopic = record.responseTopic else { return nil }
            topic = responseTopic
        case .mqtt311:
            guard let requestId = record.requestId else { return nil }
            topic = topics.legacyReplyTopic(device: record.device, operation: record.operation, requestId: requestId, status: status)
        }
        var properties = [UserProperty("status", "\(status)")]
        if status >= 400, let code { properties.append(UserProperty("error", code)) }
        if let traceparent = record.userProperties.first(named: "traceparent") {
            properties.append(UserProperty("traceparent", traceparent))
        }
        properties += extraProperties.filter { !["status", "error", "traceparent"].contains($0.name) }
        return DeviceReply(
            topic: topic,
            payload: payload,
            contentType: contentType,
            correlationData: record.correlationData,
            userProperties: properties,
            status: status
        )
    }

    /// The reply carrying a record's stored final answer.
    public static func final(for record: RequestRecord, topics: Topics) -> DeviceReply? {
        guard let status = record.replyStatus else { return nil }
        return make(
            for: record,
            status: status,
            code: record.replyCode,
            payload: record.replyPayload ?? Data(),
            contentType: record.replyContentType,
            extraProperties: record.replyUserProperties,
            topics: topics
        )
    }
}
