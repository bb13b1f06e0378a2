import ArgumentParser
import Foundation
import MQTT

/// `courier-bench mqtt`: what the MQTT client sustains through mosquitto, publishing in bulk
/// and doing QoS 1 request/reply round trips.
struct MQTTBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mqtt",
        abstract: "Publish rate and request/reply round trips through the MQTT client."
    )

    /// Bytes in every published message.
    static let payloadSize = 64

    @OptionGroup var brokerOptions: BrokerOptions

    @Option(help: "Messages published in each publish-rate run.")
    var messages = 50_000

    @Option(help: "Publishes in flight during the publish-rate runs.")
    var window = 1000

    @Option(help: "Seconds each round-trip run lasts.")
    var duration: Double = 5

    @Option(parsing: .upToNextOption, help: "Requests outstanding in the request/reply runs; one run per value.")
    var concurrency: [Int] = [1, 16]

    func validate() throws {
        guard messages > 0 else { throw ValidationError("--messages must be positive") }
        guard window > 0 else { throw ValidationError("--window must be positive") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        guard !concurrency.isEmpty, concurrency.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--concurrency takes one or more positive counts")
        }
    }

    func run() async throws {
        let payload = Data(repeating: 0x61, count: Self.payloadSize)
        let prefix = "bench/\(UInt32.random(in: 0...UInt32.max))"
        try await brokerOptions.withBroker { broker in
            BenchReport.printHeader(broker: broker, details: [("payload", "\(Self.payloadSize) bytes")])
            BenchReport.output()
            try await publishRates(broker, topic: "\(prefix)/rate", payload: payload)
            BenchReport.output()
            try await roundTrips(broker, prefix: prefix, payload: payload)
        }
    }

    private func publishRates(_ broker: BenchBroker, topic: String, payload: Data) async throws {
        let benchmark = PublishRateBenchmark(broker: broker, topic: topic, messages: messages, window: window, payload: payload)
        var results: [PublishRateBenchmark.Result] = []
        for qos in [MQTTQoS.atMostOnce, .atLeastOnce] {
            BenchReport.progress("publishing \(messages) messages at QoS \(qos.rawValue)")
            results.append(try await benchmark.run(qos: qos))
        }

        BenchReport.output("Publish rate: \(messages) messages, \(window) in flight, one publisher, one subscriber")
        var table = TextTable("QoS", "acked msg/s", "received msg/s", "received", "acked vs QoS 0")
        for result in results {
            table.add(
                "\(result.qos.rawValue)",
                result.publishRate.text(0),
                result.receiveRate.text(0),
                "\(result.received)/\(result.sent)",
                (result.publishRate / results[0].publishRate).text(2) + "x"
            )
        }
        BenchReport.output(table)
        BenchReport.output("acked: QoS 0 written to the socket, QoS 1 PUBACK received; both rates count from the first publish")
    }

    private func roundTrips(_ broker: BenchBroker, prefix: String, payload: Data) async throws {
        let runDuration = Duration.seconds(duration)
        BenchReport.progress("publish→receive on one client for \(duration) s")
        let reference = try await RoundTripBenchmark.withEcho(on: broker, topic: "\(prefix)/echo", payload: payload) { echo in
            try await echo.run(concurrency: 1, duration: runDuration)
        }
        let requestReply = try await RoundTripBenchmark.withRequestReply(
            on: broker,
            requestTopic: "\(prefix)/req",
            replyTopic: "\(prefix)/reply",
            payload: payload
        ) { benchmark in
            var results: [RoundTripBenchmark.Result] = []
            for outstanding in concurrency {
                BenchReport.progress("request/reply with \(outstanding) outstanding for \(duration) s")
                results.append(try await benchmark.run(concurrency: outstanding, duration: runDuration))
            }
            return results
        }

        BenchReport.output("Round trips at QoS 1, \(duration.text(1)) s per run, closed loop")
        var table = TextTable("run", "outstanding", "round trips/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "count", "rate vs ref")
        func add(_ name: String, _ result: RoundTripBenchmark.Result) {
            let latency = result.latency
            table.add(
                name,
                "\(result.concurrency)",
                result.rate.text(0),
                latency.p50.milliseconds.text(3),
                latency.p90.milliseconds.text(3),
                latency.p99.milliseconds.text(3),
                latency.max.milliseconds.text(3),
                "\(latency.count)",
                (result.rate / reference.rate).text(2) + "x"
            )
        }
        add("ref: publish→receive, one client", reference)
        for result in requestReply { add("request/reply via responder", result) }
        BenchReport.output(table)
        BenchReport.output("request/reply: requester → broker → responder → broker → requester, each hop QoS 1 with its PUBACK")
    }
}
