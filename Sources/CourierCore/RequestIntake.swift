import Foundation

/// What intake decided about one incoming request.
package enum IntakeDecision: Sendable, Equatable {
    /// Valid: record it (quotas and duplicates are checked by the store).
    case accept(RequestRecord)
    /// Invalid: record it as a dead letter and answer with `code` where a reply can go.
    case reject(RequestRecord, ReplyCode, message: String)
    /// Not even addressable (not a request topic, malformed device id): count, log, drop.
    case drop(reason: String)
}

/// Validates device requests against the contract and the configuration. Pure: no I/O.
package struct RequestIntake: Sendable {
    package var configuration: CourierConfiguration
    /// The layout request topics are parsed with: the configuration's.
    package var topics: Topics { configuration.topics }

    /// The most levels a Response Topic may have. mosquitto 2.0 disconnects a client that
    /// publishes to a topic of more than 201 levels (EMQX's default limit is 128): the bridge
    /// would be that client, and libmosquitto would publish its QoS 1 reply again after every
    /// reconnect, so one such request would keep the bridge off the broker. A deeper topic is
    /// one the bridge must not publish to, as one outside the device's namespace.
    package static let maxResponseTopicLevels = 128

    package init(configuration: CourierConfiguration) {
        self.configuration = configuration
    }

    /// Decides what to do with a request received at `now` (unix ms).
    package func evaluate(_ request: IncomingRequest, now: Int64) -> IntakeDecision {
        guard let parsed = topics.parseRequest(request.topic) else {
            return .drop(reason: "not a request topic")
        }
        guard Topics.isValidID(parsed.device) else { return .drop(reason: "malformed device id") }

        // A five-level request carrying a Response Topic follows the MQTT 5 rules.
        let isLegacy = parsed.requestId != nil && request.responseTopic == nil
        var record = RequestRecord(
            id: RequestRecord.newID(now: now),
            device: parsed.device,
            operation: parsed.operation,
            deviceProtocol: isLegacy ? .mqtt311 : .mqtt5,
            correlationData: isLegacy ? nil : request.correlationData,
            requestId: parsed.requestId,
            responseTopic: isLegacy ? nil : request.responseTopic,
            qos: request.qos,
            payload: request.payload,
            contentType: request.contentType,
            payloadFormatIndicator: request.payloadFormatIndicator,
            userProperties: request.userProperties,
            receivedAt: now,
            deadline: now
        )

        if !isLegacy, let responseTopic = request.responseTopic,
            !topics.isAllowedResponseTopic(responseTopic, device: parsed.device)
        {
            record.responseTopic = nil  // never published to
            return reject(record, .forbiddenResponseTopic, "response topic \(responseTopic) is outside \(topics.replyFilter(parsed.device))")
        }
        if !isLegacy, let responseTopic = request.responseTopic {
            let levels = responseTopic.utf8.reduce(1) { $1 == UInt8(ascii: "/") ? $0 + 1 : $0 }
            if levels > Self.maxResponseTopicLevels {
                record.responseTopic = nil  // never published to
                return reject(record, .forbiddenResponseTopic, "response topic has \(levels) levels, at most \(Self.maxResponseTopicLevels) allowed")
            }
        }
        if let requestId = parsed.requestId, !Topics.isValidID(requestId) {
            return reject(record, .badRequest, "request id must match [A-Za-z0-9_.-]{1,64}")
        }
        if let correlation = record.correlationData, correlation.count > configuration.limits.maxCorrelationDataBytes {
            return reject(record, .badRequest, "correlation data is \(correlation.count) bytes, at most \(configuration.limits.maxCorrelationDataBytes) allowed")
        }
        return check(record, messageExpiry: request.messageExpiry, now: now)
    }

    /// Decides what to do with a request submitted over HTTP for `device` (the Asynchronous
    /// Request-Reply pattern) at `now`: the same checks as a device's request. `requestId` is
    /// the `Idempotency-Key`.
    package func evaluate(device: String, operation: String, payload: Data, contentType: String?, requestId: String?, now: Int64) -> IntakeDecision {
        guard Topics.isValidID(device) else { return .drop(reason: "device must match [A-Za-z0-9_.-]{1,64}") }
        var record = RequestRecord(
            id: RequestRecord.newID(now: now),
            device: device,
            operation: operation,
            deviceProtocol: .http,
            requestId: requestId,
            qos: 1,
            payload: payload,
            contentType: contentType,
            receivedAt: now,
            deadline: now
        )
        if let requestId, !Topics.isValidID(requestId) {
            record.requestId = nil
            return reject(record, .badRequest, "Idempotency-Key must match [A-Za-z0-9_.-]{1,64}")
        }
        return check(record, messageExpiry: nil, now: now)
    }

    /// The checks every request (and every command) goes through once its addressing is
    /// known: operation (command) name and configuration, deadline, payload size and content.
    package func check(_ record: RequestRecord, messageExpiry: UInt32?, now: Int64) -> IntakeDecision {
        var record = record
        let noun = record.kind == .command ? "command" : "operation"
        guard Topics.isValidID(record.operation) else {
            return reject(record, .badRequest, "\(noun) must match [A-Za-z0-9_.-]{1,64}")
        }
        record.identity = Self.identity(of: record)
        guard let operation = configuration.settings(for: record.kind, record.operation) else {
            return reject(record, .unknownOperation, "\(noun) \(record.operation) is not configured")
        }
        let timeout = min(operation.timeout.milliseconds, messageExpiry.map { Int64($0) * 1000 } ?? .max)
        record.deadline = now + timeout
        guard record.payload.count <= operation.maxPayloadBytes else {
            // Kept as a dead letter, but only as much of it as the operation allows.
            let size = record.payload.count
            record.payload = Data(record.payload.prefix(operation.maxPayloadBytes))
            return reject(record, .payloadTooLarge, "payload is \(size) bytes, at most \(operation.maxPayloadBytes) allowed for \(operation.name)")
        }
        if operation.content == .json, (try? JSONSerialization.jsonObject(with: record.payload, options: [.fragmentsAllowed])) == nil {
            return reject(record, .badRequest, "payload is not valid JSON, which \(operation.name) requires")
        }
        return .accept(record)
    }

    /// The duplicate-suppression key: (device, correlation data) for MQTT 5, (device,
    /// operation, request id) for 3.1.1; nil when the request carries neither. A command's is
    /// (device, command, its `Idempotency-Key`, or over MQTT its submitter's Correlation Data).
    package static func identity(of record: RequestRecord) -> String? {
        if record.kind == .command {
            if let key = record.requestId { return "c|\(record.device)|\(record.operation)|\(key)" }
            return record.correlationData.map { "cm|\(record.device)|\(record.operation)|\($0.base64EncodedString())" }
        }
        return switch record.deviceProtocol {
        case .mqtt5:
            record.correlationData.map { "m5|\(record.device)|\($0.base64EncodedString())" }
        case .mqtt311:
            record.requestId.map { "m3|\(record.device)|\(record.operation)|\($0)" }
        case .http:
            record.requestId.map { "h|\(record.device)|\(record.operation)|\($0)" }
        }
    }

    private func reject(_ record: RequestRecord, _ code: ReplyCode, _ message: String) -> IntakeDecision {
        var record = record
        record.state = .rejected
        record.reason = code.rawValue
        return .reject(record, code, message: message)
    }
}
