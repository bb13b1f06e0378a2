import CourierConfig
import Testing

@testable import CourierCore

/// `topics:` templates: which are valid, what each key's error says, and every topic, filter
/// and parser on a layout other than the default.
@Suite(.timeLimit(.minutes(1)))
struct TopicLayoutTests {
    /// Firmware with its own layout: everything under `v1/`, the device before the rest.
    static let layout = try! Topics(templates: [
        "request": "v1/devices/{device}/rpc/request/{operation}",
        "replies": "v1/devices/{device}/rpc/response",
        "cancel": "v1/devices/{device}/rpc/cancel",
        "command": "v1/devices/{device}/cmd/{command}",
        "commandReplies": "v1/devices/{device}/cmd-result/{command}",
        "work": "site-a/work/{operation}",
    ])
    let topics = Self.layout

    @Test func theDefaultsAreTheSpecs() throws {
        let defaults = try Topics(templates: [:])
        #expect(defaults == Topics())
        #expect(Topics.keys.map { "\(defaults.template(named: $0))" } == [
            "devices/{device}/requests/{operation}", "devices/{device}/replies", "devices/{device}/cancel",
            "devices/{device}/commands/{command}", "devices/{device}/command-replies/{command}", "courier/work/{operation}",
        ])
    }

    @Test func requestsOnAnotherLayout() {
        #expect(topics.requestFilters == ["v1/devices/+/rpc/request/+", "v1/devices/+/rpc/request/+/+"])
        #expect(topics.requestTopic(device: "d1", operation: "echo") == "v1/devices/d1/rpc/request/echo")
        #expect(topics.parseRequest("v1/devices/d1/rpc/request/echo") == ParsedRequestTopic(device: "d1", operation: "echo", requestId: nil))
        let legacy = topics.requestTopic(device: "d1", operation: "echo", requestId: "r7")
        #expect(legacy == "v1/devices/d1/rpc/request/echo/r7")
        #expect(topics.parseRequest(legacy)?.requestId == "r7")
        for other in ["devices/d1/requests/echo", "v1/devices/d1/rpc/request", "v1/devices/d1/rpc/request/echo/r7/x", "v2/devices/d1/rpc/request/echo"] {
            #expect(topics.parseRequest(other) == nil, "\(other)")
        }
    }

    @Test func confinementFollowsTheLayout() {
        #expect(topics.replyNamespace("d1") == "v1/devices/d1/rpc/response")
        #expect(topics.replyFilter("d1") == "v1/devices/d1/rpc/response/#")
        #expect(topics.isAllowedResponseTopic("v1/devices/d1/rpc/response", device: "d1"))
        #expect(topics.isAllowedResponseTopic("v1/devices/d1/rpc/response/echo/42", device: "d1"))
        for forbidden in [
            "devices/d1/replies/x", "v1/devices/d2/rpc/response", "v1/devices/d1/rpc/responses", "v1/devices/d1/rpc/response/+",
            "v1/devices/d1/rpc", "v1/devices/d1/rpc/request/echo", "v1/devices/d1/rpc/response//x",
        ] {
            #expect(!topics.isAllowedResponseTopic(forbidden, device: "d1"), "\(forbidden)")
        }
        #expect(topics.legacyReplyTopic(device: "d1", operation: "echo", requestId: "r7", status: 200) == "v1/devices/d1/rpc/response/echo/r7/200")
    }

    @Test func cancels() {
        #expect(topics.cancelFilters == ["v1/devices/+/rpc/cancel", "v1/devices/+/rpc/cancel/+/+"])
        #expect(topics.cancelTopic(device: "d1") == "v1/devices/d1/rpc/cancel")
        #expect(topics.cancelTopic(device: "d1", operation: "echo", requestId: "r7") == "v1/devices/d1/rpc/cancel/echo/r7")
        #expect(topics.parseCancel("v1/devices/d1/rpc/cancel") == ParsedCancelTopic(device: "d1"))
        #expect(topics.parseCancel("v1/devices/d1/rpc/cancel/echo/r7") == ParsedCancelTopic(device: "d1", operation: "echo", requestId: "r7"))
        #expect(topics.parseCancel("v1/devices/d1/rpc/cancel/echo") == nil)
        #expect(Topics().cancelTopic(device: "d1", operation: "echo", requestId: "r1") == "devices/d1/cancel/echo/r1")
    }

    @Test func commands() {
        #expect(topics.commandTopic(device: "d1", command: "reboot") == "v1/devices/d1/cmd/reboot")
        #expect(topics.commandTopic(device: "d1", command: "reboot", commandId: "c9") == "v1/devices/d1/cmd/reboot/c9")
        #expect(topics.commandFilter(device: "d1") == "v1/devices/d1/cmd/+")
        #expect(topics.commandFilter(device: "d1", legacy: true) == "v1/devices/d1/cmd/+/+")
        #expect(topics.parseCommand("v1/devices/d1/cmd/reboot") == ParsedCommandTopic(device: "d1", command: "reboot"))
        #expect(topics.parseCommand("v1/devices/d1/cmd/reboot/c9") == ParsedCommandTopic(device: "d1", command: "reboot", commandId: "c9"))
        #expect(topics.parseCommand("v1/devices/d1/cmd") == nil)

        #expect(topics.commandReplyTopic(device: "d1", command: "reboot") == "v1/devices/d1/cmd-result/reboot")
        #expect(topics.legacyCommandReplyTopic(device: "d1", command: "reboot", commandId: "c9", status: 102) == "v1/devices/d1/cmd-result/reboot/c9/102")
        #expect(topics.commandReplyFilters == ["v1/devices/+/cmd-result/+", "v1/devices/+/cmd-result/+/+/+"])
        #expect(topics.parseCommandReply("v1/devices/d1/cmd-result/reboot") == ParsedCommandReplyTopic(device: "d1", command: "reboot"))
        #expect(
            topics.parseCommandReply("v1/devices/d1/cmd-result/reboot/c9/504")
                == ParsedCommandReplyTopic(device: "d1", command: "reboot", commandId: "c9", status: 504))
        for bad in ["v1/devices/d1/cmd-result/reboot/c9/ok", "v1/devices/d1/cmd-result/reboot/c9/99", "v1/devices/d1/cmd-result/reboot/c9/0200", "v1/devices/d1/cmd-result/reboot/c9"] {
            #expect(topics.parseCommandReply(bad) == nil, "\(bad)")
        }
        #expect(Topics().commandSubmission(device: "d1", command: "reboot") == "courier/commands/d1/reboot")
    }

    @Test func work() {
        #expect(topics.workTopic("echo") == "site-a/work/echo")
        #expect(topics.workSubscription("echo") == "$share/courier-workers/site-a/work/echo")
    }

    @Test func levelsAreMatchedAsBytes() {
        let kelvin = try! Topics(templates: ["request": "k/{device}/\u{212A}/{operation}"])
        #expect(kelvin.parseRequest("k/d1/K/echo") == nil)
        #expect(kelvin.parseRequest("k/d1/\u{212A}/echo")?.operation == "echo")
        // A "/" followed by a combining mark still splits levels, as the broker splits them.
        #expect(Topics().parseRequest("devices/d1/requests/\u{301}echo")?.operation == "\u{301}echo")
        #expect(Topics().parseRequest("devices/d1\u{301}/requests/echo")?.device == "d1\u{301}")
    }

    @Test(arguments: [
        ("request", "", "is empty"),
        ("request", "$devices/{device}/requests/{operation}", "starts with $"),
        ("request", "devices/{device}//{operation}", "has an empty level"),
        ("request", "/devices/{device}/{operation}", "has an empty level"),
        ("request", "devices/{device}/requests/{operation}/", "has an empty level"),
        ("request", "devices/+/requests/{operation}", "wildcard"),
        ("request", "devices/{device}/requests/#", "wildcard"),
        ("request", "devices/dev-{device}/requests/{operation}", "\"dev-{device}\" must be a whole level"),
        ("request", "devices/{device}/{operation}-x", "must be a whole level"),
        ("request", "devices/{device/requests/{operation}", "must be a whole level"),
        ("request", "devices/{device}/requests", "needs {operation}"),
        ("request", "devices/requests/{operation}", "{device} must come before {operation}"),
        ("request", "{operation}/{device}", "{device} must come before {operation}"),
        ("request", "devices/{device}/{command}", "{command} is not allowed here (allowed: {device}, {operation})"),
        ("request", "devices/{device}/{requestId}/{operation}", "{requestId} is not allowed here"),
        ("request", "devices/{device}/{device}/{operation}", "has {device} twice"),
        ("replies", "devices/replies", "needs {device}"),
        ("replies", "devices/{device}/replies/{operation}", "{operation} is not allowed here (allowed: {device})"),
        ("cancel", "devices/cancel", "needs {device}"),
        ("command", "devices/{command}/{device}", "{device} must come before {command}"),
        ("commandReplies", "devices/{device}/command-replies", "needs {command}"),
        ("work", "courier/work/{device}/{operation}", "{device} is not allowed here (allowed: {operation})"),
        ("work", "courier/work", "needs {operation}"),
    ])
    func invalidTemplates(key: String, template: String, problem: String) {
        #expect {
            _ = try Topics(templates: [key: template])
        } throws: { error in
            guard let error = error as? TopicLayoutError else { return false }
            return error.key == key && error.message.contains(problem) && error.description.hasPrefix("topics.\(key): ")
        }
    }

    @Test(arguments: [
        // The bridge would take its own replies, 3.1.1 replies or commands as requests.
        (["request": "devices/{device}/{operation}"], "replies", "topics.request"),
        (["request": "d/{device}/{operation}", "replies": "d/{device}/out"], "replies", "topics.request"),
        (["cancel": "devices/{device}/replies/cancel"], "cancel", "topics.replies"),
        (["command": "devices/{device}/requests/{command}"], "command", "topics.request"),
        (["commandReplies": "devices/{device}/commands/{command}"], "commandReplies", "topics.command"),
        (["work": "devices/{operation}/requests/x"], "work", "topics.request"),
        (["request": "courier/{device}/{operation}"], "request", "Courier's own courier/workers/#"),
        (["work": "courier/bridges/{operation}/replies"], "work", "courier/bridges/+/replies"),
    ])
    func templatesMustNameTopicsOfTheirOwn(templates: [String: String], key: String, other: String) {
        #expect {
            _ = try Topics(templates: templates)
        } throws: { error in
            guard let error = error as? TopicLayoutError else { return false }
            return error.key == key && error.message.contains(other)
        }
    }

    @Test(arguments: [
        "x/{device}/{operation}",
        "a/b/c/{device}/x/y/{operation}",
        "devices/{device}/call/{operation}/now",
        "fleet.eu/{device}/rpc/{operation}",
    ])
    func validRequestTemplates(_ template: String) throws {
        let topics = try Topics(templates: ["request": template, "replies": "out/{device}/r/x/y"])
        #expect("\(topics.request)" == template)
        let topic = topics.requestTopic(device: "d1", operation: "op", requestId: "r1")
        #expect(topics.parseRequest(topic) == ParsedRequestTopic(device: "d1", operation: "op", requestId: "r1"))
    }

    @Test func theConfigurationReadsTheSection() throws {
        let yaml = """
            topics:
              request: "v1/devices/{device}/rpc/request/{operation}"
              replies: "v1/devices/{device}/rpc/response"
              work: ~
            """
        let config = try ConfigLoader.parse(yaml: yaml, file: "t.yaml")
        #expect(config.topics == (try Topics(templates: [
            "request": "v1/devices/{device}/rpc/request/{operation}", "replies": "v1/devices/{device}/rpc/response",
        ])))
        #expect(try ConfigLoader.parse(yaml: "topics:\n", file: "t.yaml").topics == Topics())
    }

    @Test(arguments: [
        ("topics:\n  request: \"devices/{device}/requests\"\n", "t.yaml:2: topics.request: \"devices/{device}/requests\" needs {operation}"),
        ("topics:\n  replies: [a]\n", "t.yaml:2: topics.replies: expected"),
        ("topics:\n  reply: x\n", "t.yaml:2: topics.reply: unknown key"),
        ("topics:\n  request: \"devices/{device}/{operation}\"\n", "t.yaml:1: topics.replies: \"devices/{device}/replies\" can name the same topics as topics.request"),
        ("topics:\n  replies: \"devices/{device}/{x}\"\n", "t.yaml:2: topics.replies: \"devices/{device}/{x}\": {x} is not allowed here (allowed: {device})"),
    ])
    func configErrorsNameTheKey(yaml: String, start: String) {
        #expect {
            _ = try ConfigLoader.parse(yaml: yaml, file: "t.yaml")
        } throws: { error in
            "\(error)".hasPrefix(start)
        }
    }
}

extension Topics {
    /// A cancel topic as a device writes it: `devices/{device}/cancel` (MQTT 5), or with an
    /// operation and request id `.../cancel/{operation}/{requestId}` (3.1.1).
    func cancelTopic(device: String, operation: String? = nil, requestId: String? = nil) -> String {
        guard let operation, let requestId else { return cancel.topic([.device: device]) }
        return cancel.topic([.device: device], suffix: [operation, requestId])
    }
}
