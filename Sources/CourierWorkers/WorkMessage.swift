import CourierCore
import Foundation
import MQTT

/// The one codec of the work message the bridge publishes to `courier/work/{operation}` and of
/// the reply a worker publishes to the bridge's reply topic (the contract's "Bridge and
/// workers"). Workers in other languages read and write the same properties.
package enum WorkMessage {
    /// The user property names.
    private enum Property {
        static let device = "courier-device"
        static let operation = "courier-operation"
        static let attempt = "courier-attempt"
        static let deadline = "courier-deadline"
        /// Every property with this prefix is the bridge's, not the device's.
        static let prefix = "courier-"
        /// A reply's status; absent means 200.
        static let status = "status"
        /// A progress reply's percentage, 0-100.
        static let progress = "progress"
    }

    // MARK: Work

    /// A work message for `courier/work/{operation}`: the request id as Correlation Data, the
    /// whole seconds left to the deadline (at least 1) as Message Expiry, the bridge's user
    /// properties, then the device's.
    package static func encode(_ request: HandlerRequest, replyTopic: String, now: Int64) -> (payload: Data, properties: MQTTProperties) {
        let secondsLeft = max(1, (request.deadline - now + 999) / 1000)
        let properties = MQTTProperties(
            responseTopic: replyTopic,
            correlationData: Data(request.requestID.utf8),
            messageExpiry: UInt32(clamping: secondsLeft),
            contentType: request.contentType,
            payloadFormatIndicator: request.payloadFormatIndicator.map { UInt8(clamping: $0) },
            userProperties: [
                UserProperty(Property.device, request.device),
                UserProperty(Property.operation, request.operation),
                UserProperty(Property.attempt, "\(request.attempt)"),
                UserProperty(Property.deadline, "\(request.deadline)"),
            ] + request.userProperties
        )
        return (request.payload, properties)
    }

    /// A work message ready to run: the request and where its answer goes.
    struct Work: Sendable, Equatable {
        var request: HandlerRequest
        var responseTopic: String
        var correlationData: Data
    }

    /// Why a work message cannot be answered.
    enum DecodeError: Error, Equatable, CustomStringConvertible {
        case noResponseTopic
        case noCorrelationData

        var description: String {
            switch self {
            case .noResponseTopic: "work message without a Response Topic"
            case .noCorrelationData: "work message without Correlation Data"
            }
        }
    }

    /// Reads a work message.
    ///
    /// - The request id is the Correlation Data read as UTF-8; it is opaque and only named in
    ///   logs, the reply echoes the bytes themselves.
    /// - `courier-operation` names the operation, or else the last topic level.
    /// - `courier-deadline` (unix ms) is the deadline; without it the Message Expiry Interval
    ///   counts from `now`; without either there is none (`Int64.max`).
    /// - `courier-attempt` defaults to 1, `courier-device` to empty.
    /// - Every user property not named `courier-...` is the device's, kept in order.
    ///
    /// Throws when there is no Response Topic or Correlation Data: nowhere to reply to, or
    /// nothing to tell the bridge which request the reply answers.
    static func decodeRequest(_ message: MQTTMessage, now: Int64) throws(DecodeError) -> Work {
        let properties = message.properties
        guard let responseTopic = properties.responseTopic, !responseTopic.isEmpty else {
            throw .noResponseTopic
        }
        guard let correlationData = properties.correlationData, !correlationData.isEmpty else {
            throw .noCorrelationData
        }
        let operation = properties.userProperty(Property.operation)
            ?? message.topic.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        let deadline: Int64 =
            properties.userProperty(Property.deadline).flatMap { Int64($0) }
            ?? properties.messageExpiry.map { now + Int64($0) * 1000 }
            ?? Int64.max
        let request = HandlerRequest(
            requestID: String(decoding: correlationData, as: UTF8.self),
            device: properties.userProperty(Property.device) ?? "",
            operation: operation,
            attempt: properties.userProperty(Property.attempt).flatMap { Int($0) } ?? 1,
            deadline: deadline,
            payload: message.payload,
            contentType: properties.contentType,
            payloadFormatIndicator: properties.payloadFormatIndicator.map(Int.init),
            userProperties: properties.userProperties.filter { !$0.name.hasPrefix(Property.prefix) }
        )
        return Work(request: request, responseTopic: responseTopic, correlationData: correlationData)
    }

    // MARK: Result

    /// A worker's reply for the work message's Response Topic: its Correlation Data, `status`
    /// first, then the result's own user properties (a `status` among them is dropped: the
    /// result's status is the one that counts).
    static func encodeResult(_ result: HandlerResponse, correlationData: Data) -> (payload: Data, properties: MQTTProperties) {
        let properties = MQTTProperties(
            correlationData: correlationData,
            contentType: result.contentType,
            userProperties: [UserProperty(Property.status, "\(result.status)")]
                + result.userProperties.filter { $0.name != Property.status }
        )
        return (result.payload, properties)
    }

    /// A non-final reply (status 102 or 202) for the work message's Response Topic: its
    /// Correlation Data, `status`, and `progress` when the update has a percentage.
    static func encodeProgress(_ update: ProgressUpdate, correlationData: Data) -> (payload: Data, properties: MQTTProperties) {
        var userProperties = [UserProperty(Property.status, "\(update.status)")]
        if let percent = update.percent { userProperties.append(UserProperty(Property.progress, "\(percent)")) }
        let properties = MQTTProperties(correlationData: correlationData, contentType: update.contentType, userProperties: userProperties)
        return (update.payload, properties)
    }

    /// A worker's reply as the bridge reads it.
    package struct Reply: Sendable, Equatable {
        /// The Correlation Data read as UTF-8.
        package var requestID: String
        package var result: HandlerResponse
        /// The `status` property when it is not a whole number from 100 to 599; `result` is
        /// then 500 `worker_error`.
        package var invalidStatus: String?
        /// A progress reply's `progress` property, when it is a whole number from 0 to 100.
        package var progress: Int?

        /// False for progress (102) and heartbeats (202): more replies follow.
        package var isFinal: Bool {
            result.status != ProgressUpdate.progressStatus && result.status != ProgressUpdate.heartbeatStatus
        }
    }

    /// Reads a worker's reply; nil without Correlation Data. The status is the `status` user
    /// property (absent means 200), which is not kept among the result's user properties. A
    /// 102's `progress` property becomes ``Reply/progress`` and is not kept there either.
    package static func decodeResult(_ message: MQTTMessage) -> Reply? {
        guard let correlation = message.properties.correlationData else { return nil }
        let requestID = String(decoding: correlation, as: UTF8.self)
        let property = message.properties.userProperty(Property.status)
        guard let status = Self.status(property) else {
            let body = ErrorBody(.workerError, message: "the worker replied with status \"\(property?.prefix(32) ?? "")\", not 100-599")
            let result = HandlerResponse(status: 500, payload: body.encoded(), contentType: ErrorBody.contentType)
            return Reply(requestID: requestID, result: result, invalidStatus: property)
        }
        let isProgress = status == ProgressUpdate.progressStatus
        let result = HandlerResponse(
            status: status,
            payload: message.payload,
            contentType: message.properties.contentType,
            userProperties: message.properties.userProperties.filter {
                $0.name != Property.status && !(isProgress && $0.name == Property.progress)
            }
        )
        let progress = isProgress ? message.properties.userProperty(Property.progress).flatMap(Self.percent) : nil
        return Reply(requestID: requestID, result: result, progress: progress)
    }

    /// The percentage a `progress` property gives: a whole number from 0 to 100, else nil.
    private static func percent(_ property: String) -> Int? {
        guard let percent = Int(property), (0...100).contains(percent) else { return nil }
        return percent
    }

    /// The status a `status` property gives: absent means 200; nil when it is not a whole
    /// number from 100 to 599.
    private static func status(_ property: String?) -> Int? {
        guard let property else { return 200 }
        guard let status = Int(property), (100...599).contains(status) else { return nil }
        return status
    }
}
