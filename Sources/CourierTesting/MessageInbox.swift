import Foundation
import MQTT
import Synchronization

/// Collects the messages a test client receives and lets the test wait for them.
package final class MessageInbox: Sendable {
    private let messages = Mutex<[MQTTMessage]>([])
    private let changed = ChangeSignal()

    package init() {}

    /// An inbox fed by a task that reads the client's ``MQTTClient/messages`` until shutdown.
    package static func draining(_ client: MQTTClient) -> MessageInbox {
        let inbox = MessageInbox()
        Task {
            for await message in client.messages { inbox.append(message) }
        }
        return inbox
    }

    package func append(_ message: MQTTMessage) {
        messages.withLock { $0.append(message) }
        changed.notify()
    }

    package var all: [MQTTMessage] { messages.withLock { $0 } }

    /// The messages received so far on a topic.
    package func on(_ topic: String) -> [MQTTMessage] { all.filter { $0.topic == topic } }

    /// Waits until at least `count` messages satisfy `predicate`; returns them.
    @discardableResult
    package func wait(
        for count: Int = 1,
        within limit: Duration = .seconds(10),
        where predicate: @escaping @Sendable (MQTTMessage) -> Bool = { _ in true }
    ) async throws -> [MQTTMessage] {
        try await changed.wait("\(count) message(s)", within: limit) {
            self.messages.withLock { $0.lazy.filter(predicate).count >= count }
        }
        return messages.withLock { $0.filter(predicate) }
    }

    /// Waits for the first message on a topic.
    package func first(on topic: String, within limit: Duration = .seconds(10)) async throws -> MQTTMessage {
        try await wait(for: 1, within: limit) { $0.topic == topic }[0]
    }
}
