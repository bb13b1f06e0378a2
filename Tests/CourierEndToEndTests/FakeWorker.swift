import CourierTesting
import Foundation
import MQTT
import Synchronization

/// A worker played by the test over MQTT, as a worker in any language would: presence, the
/// shared work subscription, and replies it decides on. Lets tests hold, fail or drop work.
final class FakeWorker: Sendable {
    struct Work: Sendable {
        var message: MQTTMessage
        var attempt: Int { message.properties.userProperty("courier-attempt").flatMap(Int.init) ?? 0 }
        var requestID: Data { message.properties.correlationData ?? Data() }
    }

    /// What to answer: a status and payload, or nil to stay silent.
    typealias Policy = @Sendable (Work) -> (status: Int, payload: Data)?

    let client: MQTTClient
    /// Its retained presence message's topic.
    let presence: String
    let received = MessageInbox()
    private let policy: Mutex<Policy>
    private let held = Mutex<[Work]>([])

    private init(client: MQTTClient, presence: String, policy: @escaping Policy) {
        self.client = client
        self.presence = presence
        self.policy = Mutex(policy)
    }

    static func start(on broker: MosquittoBroker, operations: [String], policy: @escaping Policy) async throws -> FakeWorker {
        let id = "fake-\(UUID().uuidString.prefix(8))"
        let presence = "courier/workers/\(id)"
        let body = try JSONSerialization.data(withJSONObject: ["id": id, "operations": operations, "concurrency": 100])
        let announcer = ClientBox()
        // Presence is announced on every connect, as after a broker restart.
        let client = try await broker.connectedClient(
            id,
            configure: { $0.will = .init(topic: presence, payload: Data(), retain: true) },
            onConnect: {
                Task { _ = try? await announcer.client?.publish(presence, payload: body, retain: true) }
            }
        )
        announcer.client = client
        let worker = FakeWorker(client: client, presence: presence, policy: policy)
        for operation in operations {
            try await client.subscribe("$share/courier-workers/courier/work/\(operation)")
        }
        try await client.publish(presence, payload: body, retain: true)
        Task {
            for await message in client.messages {
                let work = Work(message: message)
                worker.received.append(message)
                if let answer = worker.policy.withLock({ $0 })(work) {
                    try? await worker.reply(to: work, status: answer.status, payload: answer.payload)
                } else {
                    worker.held.withLock { $0.append(work) }
                }
            }
        }
        return worker
    }

    func setPolicy(_ policy: @escaping Policy) { self.policy.withLock { $0 = policy } }

    /// Answers everything held so far with the current policy.
    func releaseHeld() async throws {
        let works = held.withLock { held in
            defer { held = [] }
            return held
        }
        let policy = self.policy.withLock { $0 }
        for work in works {
            if let answer = policy(work) { try await reply(to: work, status: answer.status, payload: answer.payload) }
        }
    }

    /// Replies as a worker does; `error` is the worker's own error code.
    func reply(to work: Work, status: Int, payload: Data, error: String? = nil) async throws {
        try await reply(to: work, rawStatus: "\(status)", payload: payload, error: error)
    }

    /// Replies with any `status` text (or none) and any correlation data, as a broken worker
    /// might; `correlation` nil sends the work's own, `.some(nil)` none at all.
    func reply(to work: Work, rawStatus: String?, payload: Data, error: String? = nil, correlation: Data?? = nil) async throws {
        guard let topic = work.message.properties.responseTopic else { return }
        var userProperties: [UserProperty] = []
        if let rawStatus { userProperties.append(.init("status", rawStatus)) }
        if let error { userProperties.append(.init("error", error)) }
        try await client.publish(
            topic,
            payload: payload,
            properties: .init(
                correlationData: correlation ?? work.message.properties.correlationData,
                contentType: work.message.properties.contentType,
                userProperties: userProperties
            )
        )
    }

    /// Clears its presence and disconnects, as a worker stopping gracefully does.
    func stop() async {
        _ = try? await client.publish(presence, payload: Data(), retain: true)
        await client.shutdown()
    }

    static let echo: Policy = { (200, $0.message.payload) }
    static let silent: Policy = { _ in nil }
}

/// Lets a connect hook reach the client it belongs to.
final class ClientBox: Sendable {
    private let value = Mutex<MQTTClient?>(nil)

    var client: MQTTClient? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
