import Foundation
import MQTT

/// Publishes a fixed number of messages with a bounded window in flight, while a second client
/// subscribed to the topic counts what arrives.
struct PublishRateBenchmark: Sendable {
    struct Result {
        let qos: MQTTQoS
        let sent: Int
        let received: Int
        /// Until the last publish completed: PUBACK for QoS 1, written to the socket for QoS 0.
        let publishTime: Duration
        /// Until the last message reached the subscriber.
        let receiveTime: Duration

        var publishRate: Double { Double(sent) / publishTime.seconds }
        var receiveRate: Double { Double(received) / receiveTime.seconds }
    }

    let broker: BenchBroker
    let topic: String
    let messages: Int
    let window: Int
    let payload: Data

    func run(qos: MQTTQoS) async throws -> Result {
        let counter = ReceiptCounter(target: messages)
        return try await broker.withClient("subscriber", onMessage: counter.hook) { subscriber in
            try await subscriber.subscribe(topic, qos: qos)
            return try await broker.withClient("publisher") { publisher in
                let start = ContinuousClock.now
                try await publishAll(publisher, qos: qos)
                let published = ContinuousClock.now
                let received = await counter.waitForAll()
                return Result(
                    qos: qos,
                    sent: messages,
                    received: received,
                    publishTime: published - start,
                    receiveTime: (counter.lastReceipt ?? published) - start
                )
            }
        }
    }

    /// `window` tasks, each publishing its share of the messages one after another, so that
    /// `window` publishes are in flight until the tail.
    private func publishAll(_ publisher: MQTTClient, qos: MQTTQoS) async throws {
        let workers = min(window, messages)
        try await withThrowingDiscardingTaskGroup { group in
            for worker in 0..<workers {
                let share = messages / workers + (worker < messages % workers ? 1 : 0)
                group.addTask {
                    for _ in 0..<share {
                        try await publisher.publish(topic, payload: payload, qos: qos)
                    }
                }
            }
        }
    }
}
