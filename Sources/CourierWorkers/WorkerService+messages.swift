import CourierCore
import Foundation
import Logging
import MQTT

extension WorkerService {
    /// The user properties the bridge sets on work messages.
    enum WorkProperty {
        static let device = "courier-device"
        static let operation = "courier-operation"
        static let attempt = "courier-attempt"
        static let deadline = "courier-deadline"
        /// Every property with this prefix is the bridge's, not the device's.
        static let prefix = "courier-"
    }

    /// The user property a reply carries its status in.
    static let statusProperty = "status"

    /// A work message ready to run: the item and where its answer goes.
    struct Work: Sendable, Equatable {
        var item: WorkItem
        var responseTopic: String
        var correlationData: Data
    }

    /// Reads a work message as the bridge sends it (see the contract, "Bridge and workers").
    ///
    /// - The request id is the Correlation Data read as UTF-8; it is opaque and only named in
    ///   logs, the reply echoes the bytes themselves.
    /// - `courier-operation` names the operation, or else the last topic level.
    /// - `courier-deadline` (unix ms) is the deadline; without it the Message Expiry Interval
    ///   counts from `now`; without either there is none (`Int64.max`).
    /// - `courier-attempt` defaults to 1, `courier-device` to empty.
    /// - Every other user property is the device's, forwarded in order.
    ///
    /// Fails, saying why, when the message has no Response Topic or Correlation Data: there is
    /// nowhere to reply to, or nothing to tell the bridge which request the reply answers.
    static func work(from message: MQTTMessage, now: Int64) -> Result<Work, WorkMessageError> {
        let properties = message.properties
        guard let responseTopic = properties.responseTopic, !responseTopic.isEmpty else {
            return .failure(.noResponseTopic)
        }
        guard let correlationData = properties.correlationData, !correlationData.isEmpty else {
            return .failure(.noCorrelationData)
        }
        let operation = properties.userProperty(WorkProperty.operation)
            ?? message.topic.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        let deadline: Int64 =
            properties.userProperty(WorkProperty.deadline).flatMap { Int64($0) }
            ?? properties.messageExpiry.map { now + Int64($0) * 1000 }
            ?? Int64.max
        let item = WorkItem(
            requestID: String(decoding: correlationData, as: UTF8.self),
            device: properties.userProperty(WorkProperty.device) ?? "",
            operation: operation,
            attempt: properties.userProperty(WorkProperty.attempt).flatMap { Int($0) } ?? 1,
            deadline: deadline,
            payload: message.payload,
            contentType: properties.contentType,
            payloadFormatIndicator: properties.payloadFormatIndicator.map(Int.init),
            userProperties: properties.userProperties
                .filter { !$0.name.hasPrefix(WorkProperty.prefix) }
        )
        return .success(Work(item: item, responseTopic: responseTopic, correlationData: correlationData))
    }

    /// Why a work message cannot be answered.
    enum WorkMessageError: Error, Equatable, CustomStringConvertible {
        case noResponseTopic
        case noCorrelationData

        var description: String {
            switch self {
            case .noResponseTopic: "work message without a Response Topic"
            case .noCorrelationData: "work message without Correlation Data"
            }
        }
    }

    /// The PUBLISH properties of a reply: the request's Correlation Data, `status` first, then the
    /// result's own user properties (a `status` of its own is dropped: the result's status is the
    /// one that counts) and content type.
    static func replyProperties(for result: WorkResult, correlationData: Data) -> MQTTProperties {
        let userProperties = [UserProperty(statusProperty, String(result.status))]
            + result.userProperties.filter { $0.name != statusProperty }
        return MQTTProperties(
            correlationData: correlationData,
            contentType: result.contentType,
            userProperties: userProperties
        )
    }

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
