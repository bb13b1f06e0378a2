import CourierCore
import CourierTesting
import Foundation
import Logging
import MQTT
import ServiceLifecycle
import Synchronization
import Testing

@testable import CourierWorkers

/// Work round trips through a real broker, the test playing the bridge.
@Suite(.timeLimit(.minutes(1)))
struct WorkerServiceTests {
    @Test func echoRoundTripKeepsCorrelationDataAndContentType() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let worker = makeWorker(broker, pool: WorkerPool(handlers: BuiltinHandlers.all, concurrency: 4))
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                // Correlation data is opaque: bytes that are not UTF-8 come back as they were.
                let correlation = Data([0xFF, 0x00, 0x80, 0x41])
                try await bridge.send("echo", "hello, worker", correlation: correlation, contentType: "text/plain")
                let reply = try await bridge.reply(correlation)
                #expect(reply.payload == Data("hello, worker".utf8))
                #expect(reply.properties.correlationData == correlation)
                #expect(reply.properties.userProperty("status") == "200")
                #expect(reply.properties.contentType == "text/plain")
                #expect(reply.qos == .atLeastOnce)
            }
            await bridge.shutdown()
        }
    }

    @Test func telemetrySummaryRepliesWithJSON() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let worker = makeWorker(broker, pool: WorkerPool(handlers: BuiltinHandlers.all, concurrency: 4))
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                let correlation = Data("summary-1".utf8)
                try await bridge.send(
                    "telemetry.summary", #"{"sensor":"temp","readings":[1,2,3,4]}"#,
                    correlation: correlation, contentType: "application/json")
                let reply = try await bridge.reply(correlation)
                #expect(reply.properties.userProperty("status") == "200")
                #expect(reply.properties.contentType == "application/json")
                let summary = try JSONDecoder().decode(TelemetrySummaryHandler.Output.self, from: reply.payload)
                #expect(summary.sensor == "temp")
                #expect(summary.count == 4)
                #expect(summary.min == 1)
                #expect(summary.max == 4)
                #expect(summary.mean == 2.5)
                #expect(abs(summary.stddev - 1.25.squareRoot()) < 1e-12)
            }
            await bridge.shutdown()
        }
    }

    @Test func aBadRequestGets400WithTheErrorBody() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let worker = makeWorker(broker, pool: WorkerPool(handlers: BuiltinHandlers.all, concurrency: 4))
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                let empty = Data("empty".utf8), garbage = Data("garbage".utf8)
                try await bridge.send("telemetry.summary", #"{"readings":[]}"#, correlation: empty)
                try await bridge.send("telemetry.summary", "not json", correlation: garbage)
                for correlation in [empty, garbage] {
                    let reply = try await bridge.reply(correlation)
                    #expect(reply.properties.userProperty("status") == "400")
                    #expect(reply.properties.contentType == "application/json")
                    let body = try JSONDecoder().decode(ErrorBody.self, from: reply.payload)
                    #expect(body.error.status == 400)
                    #expect(body.error.code == "bad_request")
                    #expect(!body.error.message.isEmpty)
                }
                let body = try JSONDecoder().decode(ErrorBody.self, from: try await bridge.reply(empty).payload)
                #expect(body.error.message.contains("readings"))
            }
            await bridge.shutdown()
        }
    }

    @Test func theHandlerSeesTheBridgesPropertiesAndTheDevicesOwn() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let worker = makeWorker(broker, pool: WorkerPool(handlers: [InspectHandler()], concurrency: 2))
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                let deadline = unixMillis() + 45_000
                let correlation = Data("req-42".utf8)
                var properties = TestBridge.workProperties(
                    correlation: correlation, operation: "inspect", device: "thermostat-7", attempt: 3, deadline: deadline)
                properties.contentType = "text/plain"
                properties.payloadFormatIndicator = 1
                properties.userProperties += [.init("traceparent", "00-abc-def-01"), .init("zone", "b"), .init("zone", "a")]
                try await bridge.client.publish(
                    Topics().workTopic("inspect"), payload: Data("payload".utf8), properties: properties)

                let reply = try await bridge.reply(correlation)
                #expect(reply.properties.userProperty("status") == "200")
                #expect(reply.properties.userProperties.map(\.name) == ["status", "handled-by"])
                let seen = try JSONDecoder().decode(InspectHandler.Seen.self, from: reply.payload)
                #expect(seen.requestID == "req-42")
                #expect(seen.device == "thermostat-7")
                #expect(seen.operation == "inspect")
                #expect(seen.attempt == 3)
                #expect(seen.deadline == deadline)
                #expect(seen.payload == "payload")
                #expect(seen.contentType == "text/plain")
                #expect(seen.payloadFormatIndicator == 1)
                #expect(seen.userProperties == [
                    UserProperty("traceparent", "00-abc-def-01"), UserProperty("zone", "b"), UserProperty("zone", "a"),
                ])
            }
            await bridge.shutdown()
        }
    }

    @Test func messagesWithoutReplyAddressOrPastTheirDeadlineGetNoReply() async throws {
        try await withBroker { broker in
            let bridge = try await TestBridge.connect(broker)
            let recorder = Recorder()
            // One slot: replies come in the order the messages were sent.
            let pool = WorkerPool(handlers: [RecordingEcho(recorder: recorder)], concurrency: 1)
            let worker = makeWorker(broker, pool: pool)
            try await withWorkers([worker]) { _ in
                try await bridge.awaitPresence(of: worker)
                let topic = Topics().workTopic("echo")
                try await bridge.send("echo", "late", correlation: Data("late".utf8), deadline: unixMillis() - 1_000)
                var noCorrelation = TestBridge.workProperties(correlation: Data("x".utf8), operation: "echo")
                noCorrelation.correlationData = nil
                try await bridge.client.publish(topic, payload: Data("no correlation".utf8), properties: noCorrelation)
                var noResponseTopic = TestBridge.workProperties(correlation: Data("no-response".utf8), operation: "echo")
                noResponseTopic.responseTopic = nil
                try await bridge.client.publish(topic, payload: Data("no response topic".utf8), properties: noResponseTopic)
                try await bridge.client.publish(topic, payload: Data("no properties at all".utf8))
                try await bridge.send("echo", "on time", correlation: Data("on-time".utf8))

                let reply = try await bridge.reply(Data("on-time".utf8))
                #expect(reply.payload == Data("on time".utf8))
                #expect(bridge.replies.count == 1)
                // Only the last one reached the handler.
                #expect(await recorder.snapshot.events == ["on time"])
            }
            await bridge.shutdown()
        }
    }

    // MARK: Identity and presence

    @Test func workerIDsAreValidAndUniquePerInstance() {
        let first = WorkerService.uniqueWorkerID(), second = WorkerService.uniqueWorkerID()
        #expect(first != second)
        #expect(first.hasPrefix("worker-"))
        #expect(first.contains("-\(ProcessInfo.processInfo.processIdentifier)-"))
        #expect(Topics.isValidID(first))
        var mqtt = MQTTConfiguration(host: "127.0.0.1", port: 1883, clientID: "ignored")
        mqtt.cleanStart = false
        mqtt.sessionExpiry = 3600
        let pool = WorkerPool(handlers: BuiltinHandlers.all, concurrency: 1)
        let a = WorkerService(pool: pool, mqtt: mqtt, logger: .test("worker"))
        let b = WorkerService(pool: pool, mqtt: mqtt, logger: .test("worker"))
        #expect(a.workerID != b.workerID)
        #expect(a.mqttConfiguration.clientID == a.workerID)
        #expect(a.mqttConfiguration.cleanStart)
        #expect(a.mqttConfiguration.sessionExpiry == 0)
        #expect(a.mqttConfiguration.will?.topic == "courier/workers/\(a.workerID)")
        #expect(a.mqttConfiguration.will?.payload.isEmpty == true)
        #expect(a.mqttConfiguration.will?.retain == true)
        let named = WorkerService(pool: pool, mqtt: mqtt, workerID: "worker-7", logger: .test("worker"))
        #expect(named.workerID == "worker-7")
        #expect(named.mqttConfiguration.clientID == "worker-7")
    }

    @Test func presenceJSONRoundTrips() throws {
        let presence = WorkerPresence(
            id: "w1", operations: ["echo"], concurrency: 8, startedAt: Date(timeIntervalSince1970: 1_700_000_000))
        let json = String(decoding: presence.encoded(), as: UTF8.self)
        #expect(json == #"{"concurrency":8,"id":"w1","operations":["echo"],"startedAt":"2023-11-14T22:13:20Z"}"#)
        #expect(WorkerPresence.decode(presence.encoded()) == presence)
        #expect(WorkerPresence.decode(Data()) == nil)
        #expect(WorkerPresence.decode(Data("{}".utf8)) == nil)
        let fractional = #"{"id":"py-1","operations":["echo"],"concurrency":2,"startedAt":"2023-11-14T22:13:20.250Z"}"#
        #expect(WorkerPresence.decode(Data(fractional.utf8))?.startedAt == Date(timeIntervalSince1970: 1_700_000_000.25))
    }
}

// MARK: - Fixtures

/// The test's side of the contract: it plays the bridge, sending work and reading replies on
/// `courier/bridges/test/replies`, and watching presence on `courier/workers/+`.
struct TestBridge {
    static let replyTopic = "courier/bridges/test/replies"

    let client: MQTTClient
    let inbox: MessageInbox

    static func connect(_ broker: MosquittoBroker) async throws -> TestBridge {
        let client = try await broker.connectedClient("bridge")
        let inbox = MessageInbox.draining(client)
        try await client.subscribe(replyTopic)
        try await client.subscribe(Topics().presenceFilter)
        return TestBridge(client: client, inbox: inbox)
    }

    /// The properties the bridge puts on a work message.
    static func workProperties(
        correlation: Data,
        operation: String,
        device: String = "d1",
        attempt: Int = 1,
        deadline: Int64 = unixMillis() + 30_000
    ) -> MQTTProperties {
        MQTTProperties(
            responseTopic: replyTopic,
            correlationData: correlation,
            messageExpiry: 30,
            userProperties: [
                .init("courier-device", device), .init("courier-operation", operation),
                .init("courier-attempt", "\(attempt)"), .init("courier-deadline", "\(deadline)"),
            ]
        )
    }

    /// Publishes one work item as the bridge does.
    @discardableResult
    func send(
        _ operation: String,
        _ payload: String,
        correlation: Data,
        contentType: String? = nil,
        deadline: Int64 = unixMillis() + 30_000
    ) async throws -> PublishAck {
        var properties = Self.workProperties(correlation: correlation, operation: operation, deadline: deadline)
        properties.contentType = contentType
        return try await client.publish(Topics().workTopic(operation), payload: Data(payload.utf8), properties: properties)
    }

    /// Waits for the reply with this correlation data (and that satisfies `predicate`).
    func reply(
        _ correlation: Data,
        within limit: Duration = .seconds(30),
        where predicate: @escaping @Sendable (MQTTMessage) -> Bool = { _ in true }
    ) async throws -> MQTTMessage {
        try await inbox.wait(within: limit) {
            $0.topic == Self.replyTopic && $0.properties.correlationData == correlation && predicate($0)
        }[0]
    }

    /// Every reply received so far.
    var replies: [MQTTMessage] { inbox.on(Self.replyTopic) }

    /// Waits until the worker announces itself (it is subscribed by then); returns the presence.
    @discardableResult
    func awaitPresence(of worker: WorkerService) async throws -> WorkerPresence {
        let topic = Topics().presence(worker.workerID)
        // Generous: the whole suite runs in parallel on two cores, clusters of processes included.
        let message = try await inbox.wait(within: .seconds(30)) { $0.topic == topic && !$0.payload.isEmpty }[0]
        return try #require(WorkerPresence.decode(message.payload))
    }

    /// Waits until the worker's presence is cleared (an empty message on its topic).
    func awaitPresenceCleared(of worker: WorkerService, within limit: Duration = .seconds(10)) async throws {
        let topic = Topics().presence(worker.workerID)
        try await inbox.wait(within: limit) { $0.topic == topic && $0.payload.isEmpty }
    }

    func shutdown() async { await client.shutdown() }
}

/// A worker service against the test broker, reconnecting quickly. A full worker holds off
/// new work for `overflowWait` (longer than the default, so that a slow test machine does not
/// see it take work beyond its limit).
func makeWorker(
    _ broker: MosquittoBroker,
    pool: WorkerPool,
    workerID: String? = nil,
    presenceRefresh: Duration? = .seconds(15),
    dispatch: CourierConfiguration.Workers.Dispatch = .shared,
    backlog: Int? = nil,
    overflowWait: Duration = .seconds(30)
) -> WorkerService {
    var mqtt = MQTTConfiguration(host: "127.0.0.1", port: broker.port, clientID: "set-by-the-service")
    mqtt.reconnectDelay = 1...1
    mqtt.inboundOverflowWait = overflowWait
    return WorkerService(
        pool: pool, mqtt: mqtt, workerID: workerID, presenceRefresh: presenceRefresh, dispatch: dispatch, backlog: backlog,
        logger: .test("worker"))
}

/// Runs the services in a `ServiceGroup` around `body`, then shuts them down gracefully and
/// waits for them to stop (also when `body` throws).
func withWorkers<T>(_ services: [WorkerService], _ body: (ServiceGroup) async throws -> T) async throws -> T {
    let group = ServiceGroup(services: services, logger: .test("services"))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(group))
        } catch {
            result = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}

/// Answers with what it was handed, as JSON, plus a user property of its own.
struct InspectHandler: OperationHandler {
    struct Seen: Codable {
        var requestID: String
        var device: String
        var operation: String
        var attempt: Int
        var deadline: Int64
        var payload: String
        var contentType: String?
        var payloadFormatIndicator: Int?
        var userProperties: [UserProperty]
    }

    let operation = "inspect"

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        let seen = Seen(
            requestID: request.requestID, device: request.device, operation: request.operation,
            attempt: request.attempt, deadline: request.deadline, payload: String(decoding: request.payload, as: UTF8.self),
            contentType: request.contentType, payloadFormatIndicator: request.payloadFormatIndicator,
            userProperties: request.userProperties)
        var response = try HandlerResponse.json(seen)
        response.userProperties = [UserProperty("handled-by", "inspect")]
        return response
    }
}

/// `echo`, recording each payload it answers.
struct RecordingEcho: OperationHandler {
    let operation = "echo"
    let recorder: Recorder

    func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        await recorder.record(String(decoding: request.payload, as: UTF8.self))
        return HandlerResponse(payload: request.payload, contentType: request.contentType)
    }
}
