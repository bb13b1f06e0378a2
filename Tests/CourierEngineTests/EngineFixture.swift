import CourierCore
import CourierEngine
import Foundation
import MQTT

/// An engine on a fixed configuration, a clock the test moves by hand, and a jitter that
/// always takes the ceiling, so every decision is predictable.
struct EngineFixture {
    var configuration: CourierConfiguration
    var now: Int64 = 1_000_000
    var workers: Set<String> = ["echo", "sum", "slow"]
    var stopping = false

    init() {
        configuration = CourierConfiguration()
        configuration.operations = [
            OperationConfig(name: "echo", timeout: .seconds(10), attemptTimeout: .seconds(3), maxAttempts: 3, maxPayloadBytes: 16),
            OperationConfig(name: "sum", content: .json, timeout: .seconds(5)),
            OperationConfig(name: "slow", timeout: .seconds(60), attemptTimeout: .seconds(20), maxAttempts: 2, ack: true),
        ]
        configuration.limits.maxPendingPerDevice = 4
    }

    var engine: RequestEngine { RequestEngine(configuration: configuration, jitter: { $0 }) }

    var conditions: Conditions {
        let workers = workers
        return Conditions(stopping: stopping) { workers.contains($0) }
    }

    mutating func advance(_ milliseconds: Int64) { now += milliseconds }

    func admit(_ arrival: Arrival) -> Admission { engine.admit(arrival, now: now, conditions: conditions) }

    /// An MQTT 5 device request to `devices/{device}/requests/{operation}`.
    static func device(
        _ device: String = "d1",
        _ operation: String = "echo",
        payload: String = "hi",
        correlation: String? = "c1",
        responseTopic: String? = nil,
        expiry: UInt32? = nil
    ) -> Arrival {
        .device(IncomingRequest(
            topic: "devices/\(device)/requests/\(operation)",
            payload: Data(payload.utf8),
            responseTopic: responseTopic ?? "devices/\(device)/replies/\(operation)",
            correlationData: correlation.map { Data($0.utf8) },
            messageExpiry: expiry,
            userProperties: [UserProperty("traceparent", "00-abc-def-01")]
        ))
    }

    /// An MQTT 3.1.1 device request with its request id as the last topic level.
    static func legacy(_ device: String = "d3", _ operation: String = "echo", id: String = "r1", payload: String = "hi") -> Arrival {
        .device(IncomingRequest(topic: "devices/\(device)/requests/\(operation)/\(id)", payload: Data(payload.utf8)))
    }

    static func http(_ device: String = "h1", _ operation: String = "echo", payload: String = "hi", key: String? = nil) -> Arrival {
        .http(device: device, operation: operation, payload: Data(payload.utf8), contentType: nil, requestId: key)
    }
}

extension Admission {
    /// The admitted request, when admission says to store it.
    var toStore: Admitted? {
        if case .store(let admitted) = self { admitted } else { nil }
    }

    var toLookUp: Admitted? {
        if case .lookUp(let admitted) = self { admitted } else { nil }
    }

    var effects: [Effect]? {
        if case .done(let effects) = self { effects } else { nil }
    }
}

extension [Effect] {
    var replies: [DeviceReply] {
        compactMap { if case .reply(let reply, _) = $0 { reply } else { nil } }
    }

    var counts: [Count] {
        compactMap { if case .count(let count) = $0 { count } else { nil } }
    }

    var responses: [SubmitOutcome] {
        compactMap { if case .respond(let outcome) = $0 { outcome } else { nil } }
    }

    var finished: [FinalOutcome] {
        compactMap { if case .finish(let outcome) = $0 { outcome } else { nil } }
    }

    var dispatched: [RequestRecord] {
        compactMap { if case .dispatch(let record) = $0 { record } else { nil } }
    }

    var logLines: [LogLine] {
        compactMap { if case .log(let line) = $0 { line } else { nil } }
    }
}

extension DeviceReply {
    var errorCode: String? { userProperties.first(named: "error") }
    var text: String { String(decoding: payload, as: UTF8.self) }
}
