/// The topic layout: the `topics:` templates of the configuration (SPEC "Topic layout") and
/// Courier's own fixed topics, with every topic, filter and parser the daemons and devices use.
///
/// MQTT 3.1.1 devices use the same templates with levels appended: `/{requestId}` to a request,
/// `/{operation}/{requestId}/{status}` to its reply, `/{operation}/{requestId}` to a cancel,
/// `/{commandId}` to a command and `/{commandId}/{status}` to a command's reply.
public struct Topics: Sendable, Equatable {
    /// The keys of the `topics:` section, in order.
    package static let keys = ["request", "replies", "cancel", "command", "commandReplies", "work"]

    /// `devices/{device}/requests/{operation}`: where devices send requests.
    package let request: TopicTemplate
    /// `devices/{device}/replies`: a device's reply namespace, this topic and everything below.
    package let replies: TopicTemplate
    /// `devices/{device}/cancel`: where a device cancels its request.
    package let cancel: TopicTemplate
    /// `devices/{device}/commands/{command}`: where the bridge sends commands to a device.
    package let command: TopicTemplate
    /// `devices/{device}/command-replies/{command}`: where a device answers a command.
    package let commandReplies: TopicTemplate
    /// `courier/work/{operation}`: where the bridge sends attempts to workers.
    package let work: TopicTemplate

    package let workerGroup = "courier-workers"
    package let bridgePrefix = "courier/bridges"
    package let presencePrefix = "courier/workers"
    package let deadLetterPrefix = "courier/deadletters"
    package let commandSubmissionPrefix = "courier/commands"
    /// Where the bridge tells workers which requests are cancelled.
    package let cancellations = "courier/cancellations"

    /// The layout of the SPEC.
    public init() {
        // The default templates are valid, as a test shows.
        try! self.init(templates: [:])
    }

    /// A layout from `topics:` templates by key (``keys``); a key left out keeps its default.
    package init(templates: [String: String]) throws(TopicLayoutError) {
        func template(_ key: String, _ fallback: String, _ placeholders: [TopicTemplate.Placeholder]) throws(TopicLayoutError) -> TopicTemplate {
            do {
                return try TopicTemplate(parsing: templates[key] ?? fallback, placeholders: placeholders)
            } catch {
                throw TopicLayoutError(key: key, message: error.message)
            }
        }
        request = try template("request", "devices/{device}/requests/{operation}", [.device, .operation])
        replies = try template("replies", "devices/{device}/replies", [.device])
        cancel = try template("cancel", "devices/{device}/cancel", [.device])
        command = try template("command", "devices/{device}/commands/{command}", [.device, .command])
        commandReplies = try template("commandReplies", "devices/{device}/command-replies/{command}", [.device, .command])
        work = try template("work", "courier/work/{operation}", [.operation])
        try checkDisjoint()
    }

    /// Every template must name topics of its own: a bridge subscribed to requests must never
    /// receive its own replies, commands or work, nor a device its replies as commands.
    private func checkDisjoint() throws(TopicLayoutError) {
        let patterns: [(key: String, pattern: TopicPattern)] = [
            ("request", request.pattern()), ("request", request.pattern(suffix: 1)),
            ("replies", replies.pattern(below: true)),
            ("cancel", cancel.pattern()), ("cancel", cancel.pattern(suffix: 2)),
            ("command", command.pattern()), ("command", command.pattern(suffix: 1)),
            ("commandReplies", commandReplies.pattern()), ("commandReplies", commandReplies.pattern(suffix: 2)),
            ("work", work.pattern()),
        ]
        let fixed = [
            "\(bridgePrefix)/+/replies", "\(presencePrefix)/#", "\(deadLetterPrefix)/+", "\(commandSubmissionPrefix)/+/+", cancellations,
        ]
        for (index, entry) in patterns.enumerated() {
            if let other = patterns.prefix(index).first(where: { $0.key != entry.key && $0.pattern.overlaps(entry.pattern) }) {
                let (template, earlier) = (self.template(named: entry.key), self.template(named: other.key))
                throw TopicLayoutError(
                    key: entry.key,
                    message: "\"\(template)\" can name the same topics as topics.\(other.key) (\"\(earlier)\"): each template needs topics of its own"
                )
            }
            if let own = fixed.first(where: { TopicPattern($0).overlaps(entry.pattern) }) {
                throw TopicLayoutError(key: entry.key, message: "\"\(template(named: entry.key))\" can name the same topics as Courier's own \(own)")
            }
        }
    }

    /// The template of a `topics:` key (one of ``keys``).
    func template(named key: String) -> TopicTemplate {
        switch key {
        case "request": request
        case "replies": replies
        case "cancel": cancel
        case "command": command
        case "commandReplies": commandReplies
        default: work
        }
    }

    // MARK: Requests

    /// The bridge's subscriptions for both request shapes: `devices/+/requests/+` and `.../+/+`.
    package var requestFilters: [String] { [request.filter(), request.filter(suffix: 1)] }

    /// A request topic: `devices/{device}/requests/{operation}`, and with a request id the
    /// MQTT 3.1.1 form `.../{operation}/{requestId}`.
    package func requestTopic(device: String, operation: String, requestId: String? = nil) -> String {
        request.topic([.device: device, .operation: operation], suffix: requestId.map { [$0] } ?? [])
    }

    /// Parses a device request topic, either shape; levels are not validated.
    package func parseRequest(_ topic: String) -> ParsedRequestTopic? {
        if let (values, _) = request.match(topic) {
            return ParsedRequestTopic(device: values[.device]!, operation: values[.operation]!, requestId: nil)
        }
        guard let (values, suffix) = request.match(topic, suffix: 1) else { return nil }
        return ParsedRequestTopic(device: values[.device]!, operation: values[.operation]!, requestId: suffix[0])
    }

    // MARK: Replies to devices

    /// A device's reply namespace: `devices/{device}/replies`, the topic itself and all below.
    package func replyNamespace(_ device: String) -> String { replies.topic([.device: device]) }

    /// The filter of a device's reply namespace: `devices/{device}/replies/#`.
    package func replyFilter(_ device: String) -> String { replyNamespace(device) + "/#" }

    /// The MQTT 3.1.1 reply topic: `devices/{device}/replies/{operation}/{requestId}/{status}`.
    package func legacyReplyTopic(device: String, operation: String, requestId: String, status: Int) -> String {
        replies.topic([.device: device], suffix: [operation, requestId, "\(status)"])
    }

    /// Whether a Response Topic is one the bridge may publish to for this device: the reply
    /// namespace itself or a topic below it (what `devices/{device}/replies/#` matches),
    /// without wildcards, empty levels or anything that is not a plain level.
    ///
    /// The topic is read as bytes, as the broker reads it: compared as a `String`, a Kelvin sign
    /// (U+212A) would pass for a `K` in the device id, and a `/`, `+`, `#` or NUL followed by
    /// a combining mark would be one character that is none of them.
    package func isAllowedResponseTopic(_ topic: String, device: String) -> Bool {
        var topic = topic, device = device
        // Byte by byte, without building the namespace: it runs for every request.
        return topic.withUTF8 { topic in
            device.withUTF8 { device in
                guard let root = replies.prefixLength(of: topic, device: device) else { return false }
                if root == topic.count { return true }
                guard topic[root] == UInt8(ascii: "/"), topic.count > root + 1, topic.count <= 1024 else { return false }
                var levelLength = 0
                for byte in topic[(root + 1)...] {
                    switch byte {
                    case UInt8(ascii: "/"):
                        guard levelLength > 0 else { return false }
                        levelLength = 0
                    case UInt8(ascii: "+"), UInt8(ascii: "#"), 0:
                        return false
                    default:
                        levelLength += 1
                    }
                }
                return levelLength > 0
            }
        }
    }

    // MARK: Cancels from devices

    /// The bridge's subscriptions for both cancel shapes: `devices/+/cancel` and `.../cancel/+/+`.
    package var cancelFilters: [String] { [cancel.filter(), cancel.filter(suffix: 2)] }

    /// Parses a cancel topic, either shape; levels are not validated.
    package func parseCancel(_ topic: String) -> ParsedCancelTopic? {
        if let (values, _) = cancel.match(topic) { return ParsedCancelTopic(device: values[.device]!) }
        guard let (values, suffix) = cancel.match(topic, suffix: 2) else { return nil }
        return ParsedCancelTopic(device: values[.device]!, operation: suffix[0], requestId: suffix[1])
    }

    // MARK: Commands to devices

    /// A command topic: `devices/{device}/commands/{command}` (MQTT 5), or with a command id
    /// `.../{command}/{commandId}` (3.1.1).
    package func commandTopic(device: String, command name: String, commandId: String? = nil) -> String {
        command.topic([.device: device, .command: name], suffix: commandId.map { [$0] } ?? [])
    }

    /// What a device subscribes to for its commands: `devices/{device}/commands/+`, and for
    /// 3.1.1 devices `devices/{device}/commands/+/+`.
    package func commandFilter(device: String, legacy: Bool = false) -> String {
        command.filter([.device: device], suffix: legacy ? 1 : 0)
    }

    /// Parses a command topic, either shape; levels are not validated.
    package func parseCommand(_ topic: String) -> ParsedCommandTopic? {
        if let (values, _) = command.match(topic) {
            return ParsedCommandTopic(device: values[.device]!, command: values[.command]!)
        }
        guard let (values, suffix) = command.match(topic, suffix: 1) else { return nil }
        return ParsedCommandTopic(device: values[.device]!, command: values[.command]!, commandId: suffix[0])
    }

    /// The Response Topic of a command: `devices/{device}/command-replies/{command}`.
    package func commandReplyTopic(device: String, command name: String) -> String {
        commandReplies.topic([.device: device, .command: name])
    }

    /// Where a 3.1.1 device answers: `devices/{device}/command-replies/{command}/{commandId}/{status}`.
    package func legacyCommandReplyTopic(device: String, command name: String, commandId: String, status: Int) -> String {
        commandReplies.topic([.device: device, .command: name], suffix: [commandId, "\(status)"])
    }

    /// The bridge's subscriptions for command replies from every device, both shapes.
    package var commandReplyFilters: [String] { [commandReplies.filter(), commandReplies.filter(suffix: 2)] }

    /// Parses a command reply topic: MQTT 5 (no command id or status: they are in the
    /// properties), or 3.1.1 with a command id and a status from 100 to 599. Levels other than
    /// the status are not validated.
    package func parseCommandReply(_ topic: String) -> ParsedCommandReplyTopic? {
        if let (values, _) = commandReplies.match(topic) {
            return ParsedCommandReplyTopic(device: values[.device]!, command: values[.command]!)
        }
        guard let (values, suffix) = commandReplies.match(topic, suffix: 2),
            suffix[1].utf8.count == 3, let status = Int(suffix[1]), (100...599).contains(status)
        else { return nil }
        return ParsedCommandReplyTopic(device: values[.device]!, command: values[.command]!, commandId: suffix[0], status: status)
    }

    /// A backend's command submission: `courier/commands/{device}/{command}`.
    package func commandSubmission(device: String, command name: String) -> String {
        "\(commandSubmissionPrefix)/\(device)/\(name)"
    }

    package var commandSubmissionFilter: String { "\(commandSubmissionPrefix)/+/+" }

    // MARK: Workers and Courier's own topics

    /// `courier/work/{operation}`.
    package func workTopic(_ operation: String) -> String { work.topic([.operation: operation]) }

    /// `$share/courier-workers/courier/work/{operation}`.
    package func workSubscription(_ operation: String) -> String { "$share/\(workerGroup)/\(workTopic(operation))" }

    package func bridgeReplies(_ bridgeID: String) -> String { "\(bridgePrefix)/\(bridgeID)/replies" }

    package func presence(_ workerID: String) -> String { "\(presencePrefix)/\(workerID)" }

    package var presenceFilter: String { "\(presencePrefix)/+" }

    package func deadLetters(_ operation: String) -> String { "\(deadLetterPrefix)/\(operation)" }

    /// Whether an id (device, operation, command or request id) matches `[A-Za-z0-9_.-]{1,64}`.
    public static func isValidID(_ id: String) -> Bool {
        let bytes = id.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }
}
