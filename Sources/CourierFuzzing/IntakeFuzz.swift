import CourierCore
import Foundation
import MQTT

/// `intake`: one device request, written as the request topic, `key: value` property lines, an
/// empty line and the payload:
///
/// ```
/// devices/d1/requests/telemetry.summary
/// response-topic: devices/d1/replies/x
/// correlation: c-42
/// expiry: 30
/// content-type: application/json
/// user: traceparent=00-abc-def-01
///
/// {"readings":[1,2]}
/// ```
///
/// Keys: `response-topic`, `correlation` (the bytes after `: `), `correlation-hex`, `expiry`,
/// `content-type`, `format`, `user` (`name=value`, repeatable), `qos`. Unknown lines are
/// ignored. The decision is checked against the contract: an accepted request has valid ids,
/// a Response Topic in the device's own namespace, correlation data and payload within their
/// limits, JSON where the operation wants it, and a deadline within the operation's timeout.
enum IntakeFuzz {
    static let now: Int64 = 1_700_000_000_000

    static let intake: RequestIntake = {
        var configuration = CourierConfiguration()
        configuration.operations += [
            OperationConfig(name: "tiny", content: .json, timeout: .milliseconds(1500), maxPayloadBytes: 16)
        ]
        configuration.limits.maxCorrelationDataBytes = 8
        return RequestIntake(configuration: configuration)
    }()

    static func request(_ input: Data) -> IncomingRequest {
        let (head, payload) = splitOnce(input, at: [0x0A, 0x0A])
        let lines = head.split(separator: 0x0A, omittingEmptySubsequences: false)
        var request = IncomingRequest(topic: text(lines.first ?? Data()), payload: Data(payload ?? Data()))
        for line in lines.dropFirst() {
            let (keyBytes, valueBytes) = splitOnce(Data(line), at: [UInt8(ascii: ":")])
            guard var value = valueBytes else { continue }
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
            switch text(keyBytes) {
            case "response-topic": request.responseTopic = text(value)
            case "correlation": request.correlationData = Data(value)
            case "correlation-hex": request.correlationData = hex(text(value))
            case "expiry": request.messageExpiry = UInt32(text(value))
            case "content-type": request.contentType = text(value)
            case "format": request.payloadFormatIndicator = Int(text(value))
            case "qos": request.qos = Int(text(value)) ?? request.qos
            case "user":
                let (name, userValue) = splitOnce(value, at: [UInt8(ascii: "=")])
                request.userProperties.append(UserProperty(text(name), text(userValue ?? Data())))
            default: continue
            }
        }
        return request
    }

    static func run(_ input: Data) throws(FuzzFailure) {
        let request = request(input)
        let decision = intake.evaluate(request, now: now)
        let parsed = intake.topics.parseRequest(request.topic)

        switch decision {
        case .drop:
            try require(parsed.map { !Topics.isValidID($0.device) } ?? true, .intake, "dropped \(debug(request)) with a valid device")
        case .reject(let record, let code, let message):
            try require(record.state == .rejected && record.reason == code.rawValue, .intake, "rejected \(debug(request)) as \(code) with state \(record.state), reason \(record.reason ?? "nil")")
            try require(!message.isEmpty, .intake, "rejected \(debug(request)) without a message")
            try checkAddressable(record, request)
            if let responseTopic = record.responseTopic {
                try require(TopicsFuzz.inNamespace(responseTopic, device: record.device), .intake, "rejected \(debug(request)) as \(code) but kept a Response Topic outside the device's namespace")
            }
            if code == .payloadTooLarge, let operation = intake.configuration.operation(named: record.operation) {
                try require(record.payload.count <= operation.maxPayloadBytes, .intake, "a rejected payload of \(record.payload.count) bytes is kept for \(operation.name)")
            }
        case .accept(let record):
            try checkAddressable(record, request)
            try checkAccepted(record, request)
        }
    }

    /// What holds for every request that gets as far as a record.
    static func checkAddressable(_ record: RequestRecord, _ request: IncomingRequest) throws(FuzzFailure) {
        try require(Topics.isValidID(record.device), .intake, "a record for device \(TopicsFuzz.debug(record.device))")
        try require(record.payload.count <= request.payload.count, .intake, "the record's payload grew")
        try require(record.receivedAt == now && record.deadline >= now, .intake, "received \(record.receivedAt), deadline \(record.deadline)")
        if record.deviceProtocol == .mqtt311 {
            try require(record.responseTopic == nil && record.correlationData == nil && record.requestId != nil, .intake, "a 3.1.1 record with MQTT 5 addressing: \(debug(request))")
        }
    }

    static func checkAccepted(_ record: RequestRecord, _ request: IncomingRequest) throws(FuzzFailure) {
        let configuration = intake.configuration
        guard let operation = configuration.operation(named: record.operation) else {
            throw FuzzFailure(.intake, "accepted \(debug(request)) for an unknown operation")
        }
        try require(record.state == .received, .intake, "accepted in state \(record.state)")
        try require(Topics.isValidID(record.operation), .intake, "accepted operation \(TopicsFuzz.debug(record.operation))")
        if let requestId = record.requestId {
            try require(Topics.isValidID(requestId), .intake, "accepted request id \(TopicsFuzz.debug(requestId))")
        }
        if let responseTopic = record.responseTopic {
            try require(
                TopicsFuzz.inNamespace(responseTopic, device: record.device), .intake,
                "accepted \(debug(request)) with a Response Topic outside devices/\(record.device)/replies/#")
            let levels = responseTopic.utf8.count(where: { $0 == UInt8(ascii: "/") }) + 1
            try require(levels <= RequestIntake.maxResponseTopicLevels, .intake, "accepted a Response Topic of \(levels) levels")
        }
        if let correlation = record.correlationData {
            try require(correlation.count <= configuration.limits.maxCorrelationDataBytes, .intake, "accepted \(correlation.count) bytes of correlation data")
            try require(correlation == request.correlationData, .intake, "correlation data changed")
        }
        try require(record.payload == request.payload, .intake, "the accepted payload changed")
        try require(record.payload.count <= operation.maxPayloadBytes, .intake, "accepted \(record.payload.count) bytes for \(operation.name)")
        if operation.content == .json {
            let json = try? JSONSerialization.jsonObject(with: record.payload, options: [.fragmentsAllowed])
            try require(json != nil, .intake, "accepted a payload that is not JSON for \(operation.name)")
        }
        try require(record.deadline <= now + operation.timeout.milliseconds, .intake, "deadline \(record.deadline - now) ms after receipt, over \(operation.name)'s timeout")
        if let expiry = request.messageExpiry, record.deviceProtocol == .mqtt5 {
            try require(record.deadline <= now + Int64(expiry) * 1000, .intake, "deadline after the message expiry")
        }
        let identity = RequestIntake.identity(of: record)
        try require(record.identity == identity, .intake, "identity \(record.identity ?? "nil") is not \(identity ?? "nil")")
        // MQTT 5 rules (a Response Topic) key on correlation data, 3.1.1 on the request id.
        let hasKey = record.deviceProtocol == .mqtt311 ? record.requestId != nil : record.correlationData != nil
        try require((identity != nil) == hasKey, .intake, "identity \(identity ?? "nil") for \(debug(request))")
    }

    static func hex(_ text: String) -> Data? {
        let digits = Array(text.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return Data(bytes)
    }

    static func debug(_ request: IncomingRequest) -> String {
        "\(TopicsFuzz.debug(request.topic)) (response topic \(request.responseTopic.map(TopicsFuzz.debug) ?? "nil"))"
    }
}
