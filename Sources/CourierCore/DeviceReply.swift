import Foundation
import MQTT

/// A reply to a device, addressed and encoded as the contract says, independent of transport.
package struct DeviceReply: Sendable, Equatable {
    package var topic: String
    package var payload: Data
    package var contentType: String?
    package var correlationData: Data?
    package var userProperties: [UserProperty]
    package var status: Int
    /// True for an MQTT 3.1.1 device's reply, whose topic's last level is the status.
    package var statusInTopic = false

    package init(
        topic: String, payload: Data, contentType: String? = nil, correlationData: Data? = nil, userProperties: [UserProperty],
        status: Int, statusInTopic: Bool = false
    ) {
        self.topic = topic
        self.payload = payload
        self.contentType = contentType
        self.correlationData = correlationData
        self.userProperties = userProperties
        self.status = status
        self.statusInTopic = statusInTopic
    }

    /// The reply for a record and a status, or nil when nothing can be published (HTTP
    /// requests, MQTT 5 requests without a Response Topic).
    package static func make(
        for record: RequestRecord,
        status: Int,
        code: String?,
        payload: Data,
        contentType: String?,
        extraProperties: [UserProperty] = [],
        topics: Topics
    ) -> DeviceReply? {
        let topic: String
        // A command's answer goes to whoever submitted it: a backend over MQTT 5, or (HTTP)
        // nobody to publish to.
        switch record.kind == .command ? .mqtt5 : record.deviceProtocol {
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
            status: status,
            statusInTopic: record.kind == .request && record.deviceProtocol == .mqtt311
        )
    }

    /// A 500 `worker_error` to send in place of this reply when no broker can take it (too
    /// large, malformed), to the same topic with the same correlation data.
    package func undeliverable(because reason: String) -> DeviceReply {
        var properties = [UserProperty("status", "500"), UserProperty("error", ReplyCode.workerError.rawValue)]
        if let traceparent = userProperties.first(named: "traceparent") { properties.append(UserProperty("traceparent", traceparent)) }
        let message = "the reply (status \(status), \(payload.count) bytes) cannot be delivered: \(reason)"
        return DeviceReply(
            topic: statusInTopic ? topic.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/") + "/500" : topic,
            payload: ErrorBody(.workerError, message: message).encoded(),
            contentType: ErrorBody.contentType,
            correlationData: correlationData,
            userProperties: properties,
            status: 500,
            statusInTopic: statusInTopic
        )
    }

    /// The reply carrying a record's stored final answer.
    package static func final(for record: RequestRecord, topics: Topics) -> DeviceReply? {
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
