import MQTT

/// The far side of a request/reply exchange: answers each request on its Response Topic with
/// the request's payload and Correlation Data, at QoS 1.
enum Responder {
    /// Runs `body` while a responder client serves requests on `topic`.
    static func serving<T>(_ topic: String, on broker: BenchBroker, _ body: () async throws -> T) async throws -> T {
        try await broker.withClient("responder") { responder in
            try await responder.subscribe(topic, qos: .atLeastOnce)
            return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
                group.addTask { try await serve(responder) }
                let outcome: Result<T, any Error>
                do {
                    outcome = .success(try await body())
                } catch {
                    outcome = .failure(error)
                }
                // Ends `messages`, so `serve` returns.
                await responder.shutdown()
                try await group.waitForAll()
                return try outcome.get()
            }
        }
    }

    /// Replies to every request until the client shuts down; replies run concurrently.
    private static func serve(_ responder: MQTTClient) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for await request in responder.messages {
                guard let replyTopic = request.properties.responseTopic else { continue }
                group.addTask {
                    do {
                        let properties = MQTTProperties(correlationData: request.properties.correlationData)
                        try await responder.publish(replyTopic, payload: request.payload, qos: .atLeastOnce, properties: properties)
                    } catch MQTTError.shutdown {
                        // The run is over.
                    }
                }
            }
        }
    }
}
