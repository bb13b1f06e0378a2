import Foundation
import MQTT

/// Closed-loop round trips: `concurrency` tasks each send a message and wait for the reply that
/// carries its Correlation Data before sending the next, for a fixed duration.
struct RoundTripBenchmark: Sendable {
    struct Result {
        let concurrency: Int
        let elapsed: Duration
        let latency: LatencyStats

        var rate: Double { Double(latency.count) / elapsed.seconds }
    }

    /// Sends one message carrying the given Correlation Data.
    let send: @Sendable (Data) async throws -> Void
    /// Fed by the client that receives the replies.
    let replies: PendingReplies

    /// Round trips sent, untimed, by each task before the measured run.
    static let warmUpPerTask = 50
    /// How long past the end of the run a reply may take before the run fails.
    static let replyGrace: Duration = .seconds(30)

    func run(concurrency: Int, duration: Duration) async throws -> Result {
        let watchdog = Task { [replies] in
            // The warm-up and the run each last at most `duration`.
            try await Task.sleep(for: duration * 2 + Self.replyGrace)
            replies.fail("no reply within \(Self.replyGrace) after the run ended")
        }
        defer { watchdog.cancel() }

        _ = try await exchange(concurrency: concurrency, until: .now + duration, limit: Self.warmUpPerTask)
        let start = ContinuousClock.now
        let samples = try await exchange(concurrency: concurrency, until: start + duration, limit: .max)
        let elapsed = ContinuousClock.now - start
        return Result(concurrency: concurrency, elapsed: elapsed, latency: LatencyStats(samples))
    }

    /// Runs `concurrency` closed loops until the deadline or `limit` round trips each; returns
    /// every round-trip time.
    private func exchange(concurrency: Int, until deadline: ContinuousClock.Instant, limit: Int) async throws -> [Duration] {
        try await withThrowingTaskGroup(of: [Duration].self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var samples: [Duration] = []
                    while samples.count < limit, ContinuousClock.now < deadline {
                        let (id, correlation) = replies.makeID()
                        let start = ContinuousClock.now
                        try await send(correlation)
                        try await replies.wait(for: id)
                        samples.append(ContinuousClock.now - start)
                    }
                    return samples
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }
}

extension RoundTripBenchmark {
    /// One client subscribed to `topic` publishes to it and waits for its own message: the
    /// cost of one QoS 1 publish→receive, for reference.
    static func withEcho<T>(
        on broker: BenchBroker,
        topic: String,
        payload: Data,
        _ body: (RoundTripBenchmark) async throws -> T
    ) async throws -> T {
        let replies = PendingReplies()
        return try await broker.withClient("echo", onMessage: replies.hook) { client in
            try await client.subscribe(topic, qos: .atLeastOnce)
            let benchmark = RoundTripBenchmark(
                send: { correlation in
                    try await client.publish(topic, payload: payload, qos: .atLeastOnce, properties: MQTTProperties(correlationData: correlation))
                },
                replies: replies
            )
            return try await body(benchmark)
        }
    }

    /// A requester publishes to `requestTopic` with a Response Topic and Correlation Data; a
    /// responder client answers each request there.
    static func withRequestReply<T>(
        on broker: BenchBroker,
        requestTopic: String,
        replyTopic: String,
        payload: Data,
        _ body: (RoundTripBenchmark) async throws -> T
    ) async throws -> T {
        try await Responder.serving(requestTopic, on: broker) {
            let replies = PendingReplies()
            return try await broker.withClient("requester", onMessage: replies.hook) { requester in
                try await requester.subscribe(replyTopic, qos: .atLeastOnce)
                let benchmark = RoundTripBenchmark(
                    send: { correlation in
                        let properties = MQTTProperties(responseTopic: replyTopic, correlationData: correlation)
                        try await requester.publish(requestTopic, payload: payload, qos: .atLeastOnce, properties: properties)
                    },
                    replies: replies
                )
                return try await body(benchmark)
            }
        }
    }
}
