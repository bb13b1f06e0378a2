import CourierCore
import Foundation
import MQTT
import Synchronization

/// Answers the commands one simulated device receives, as its profile's ``CommandHandler``s say
/// and as the SPEC's device side goes: MQTT 5 answers go to the command's Response Topic with
/// its Correlation Data and user property `status`; 3.1.1 answers go to
/// `.../command-replies/{command}/{commandId}/{status}`. The command id is an idempotency key:
/// a repeated attempt gets the stored answer again (202 while the command still runs), and the
/// command runs once.
final class CommandResponder: Sendable {
    /// Where and how a command's answers go.
    enum Destination: Sendable {
        case mqtt5(responseTopic: String, correlation: Data)
        case mqtt311(command: String, commandId: String)
    }

    struct Answer: Sendable {
        var status: Int
        var payload: Data
        var contentType: String?
    }

    enum Memory: Sendable {
        case running
        case answered(Answer)
    }

    /// Command ids remembered per device; the oldest are forgotten past this.
    static let memoryLimit = 4096

    private struct State {
        var memory: [String: Memory] = [:]
        var order: [String] = []
    }

    let device: String
    let handlers: [String: CommandHandler]
    let topics: Topics
    let convention: DeviceProfile.Convention
    let stats: RunStats
    let link: DeviceLink
    private let state = Mutex(State())
    /// The last answer handed to the broker, or on its way: each answer waits for the one
    /// before, so they leave in the order the device decided them. A repeat that arrives while
    /// its command runs is answered 202 before the command's own answer, even when the two are
    /// decided a moment apart (as when the device comes back online).
    private let lastAnswer = Mutex<Task<Void, Never>?>(nil)

    init(device: String, profile: DeviceProfile, topics: Topics, stats: RunStats, link: DeviceLink) {
        self.device = device
        handlers = Dictionary(uniqueKeysWithValues: profile.commands.map { ($0.command, $0) })
        self.topics = topics
        convention = profile.convention
        self.stats = stats
        self.link = link
    }

    /// Takes one command (on the network thread): runs it in a task of its own, or answers a
    /// repeat from memory.
    func receive(_ message: MQTTMessage, _ parsed: ParsedCommandTopic) {
        stats.commandReceived()
        let key: String
        let destination: Destination
        switch convention {
        case .mqtt5:
            guard let responseTopic = message.properties.responseTopic, let correlation = message.properties.correlationData else {
                stats.commandMalformed("\(device) got a command on \(message.topic) without Response Topic or Correlation Data")
                return
            }
            key = "\(parsed.command)|\(correlation.base64EncodedString())"
            destination = .mqtt5(responseTopic: responseTopic, correlation: correlation)
        case .mqtt311:
            guard let commandId = parsed.commandId else { return }
            key = "\(parsed.command)|\(commandId)"
            destination = .mqtt311(command: parsed.command, commandId: commandId)
        }
        let remembered: Memory? = state.withLock { state in
            if let memory = state.memory[key] { return memory }
            state.memory[key] = .running
            state.order.append(key)
            if state.order.count > Self.memoryLimit { state.memory[state.order.removeFirst()] = nil }
            return nil
        }
        switch remembered {
        case .answered(let answer):
            stats.commandRepeat()
            send(answer, progress: nil, to: destination)
        case .running:
            stats.commandRepeat()
            send(Answer(status: 202, payload: Data()), progress: nil, to: destination)
        case nil:
            stats.commandExecuted()
            Task { await run(parsed.command, message: message, key: key, destination: destination) }
        }
    }

    /// Runs a command's steps and sends its final answer.
    private func run(_ command: String, message: MQTTMessage, key: String, destination: Destination) async {
        let answer: Answer
        if let handler = handlers[command] {
            if let offline = handler.offline, await link.goOffline(for: offline) { stats.commandWentOffline() }
            for step in 0..<handler.progressSteps {
                try? await Task.sleep(for: handler.progressEvery)
                let percent = (step + 1) * 100 / (handler.progressSteps + 1)
                send(Answer(status: 102, payload: Data("step \(step + 1) of \(handler.progressSteps)".utf8)), progress: percent, to: destination)
            }
            if handler.delay > .zero { try? await Task.sleep(for: handler.delay) }
            answer = switch handler.answer {
            case .echo: Answer(status: handler.status, payload: message.payload, contentType: message.properties.contentType)
            case .json(let text): Answer(status: handler.status, payload: Data(text.utf8), contentType: "application/json")
            case .text(let text): Answer(status: handler.status, payload: Data(text.utf8), contentType: "text/plain")
            }
        } else {
            let body = ErrorBody(status: 404, code: "unknown_command", message: "\(device) has no command \(command)")
            answer = Answer(status: 404, payload: body.encoded(), contentType: ErrorBody.contentType)
        }
        state.withLock { $0.memory[key] = .answered(answer) }
        send(answer, progress: nil, to: destination)
    }

    /// Queues an answer behind the ones already sent or queued.
    private func send(_ answer: Answer, progress: Int?, to destination: Destination) {
        lastAnswer.withLock { last in
            let previous = last
            last = Task {
                await previous?.value
                await publish(answer, progress: progress, to: destination)
            }
        }
    }

    private func publish(_ answer: Answer, progress: Int?, to destination: Destination) async {
        let topic: String
        var properties = MQTTProperties()
        switch destination {
        case .mqtt5(let responseTopic, let correlation):
            topic = responseTopic
            properties.correlationData = correlation
            properties.contentType = answer.contentType
            properties.userProperties = [UserProperty("status", "\(answer.status)")]
            if let progress { properties.userProperties.append(UserProperty("progress", "\(progress)")) }
        case .mqtt311(let command, let commandId):
            topic = topics.legacyCommandReplyTopic(device: device, command: command, commandId: commandId, status: answer.status)
        }
        stats.commandAnswered(status: answer.status)
        do {
            try await link.client.publish(topic, payload: answer.payload, qos: .atLeastOnce, properties: properties)
        } catch {
            stats.commandPublishFailed("\(device) could not answer on \(topic): \(error)")
        }
    }
}
