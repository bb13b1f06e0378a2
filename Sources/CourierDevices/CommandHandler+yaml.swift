import CourierConfig
import CourierCore

extension CommandHandler {
    /// One entry of a profile's `commands:` list:
    ///
    /// ```yaml
    /// commands:
    ///   - command: reboot
    ///     answer: echo                  # or { json: {...} } or { text: "..." }
    ///     status: 200                   # the final status (500: a failing command)
    ///     delay: 200ms                  # before the final answer
    ///     progress: { steps: 3, every: 100ms }   # 102s with user property progress
    ///     offline: 2s                   # disconnect first, come back to the same session
    /// ```
    static func parse(_ node: ConfigNode) throws(ConfigError) -> CommandHandler {
        let keys = try node.mapping(keys: ["command", "answer", "status", "delay", "progress", "offline"])
        guard let nameNode = keys["command"] else { throw node.error("missing key command") }
        var handler = CommandHandler(command: try nameNode.id())
        if let answer = keys["answer"] { handler.answer = try parseAnswer(answer) }
        if let status = keys["status"] {
            handler.status = try status.int(in: 200...599)
            if handler.status == 202 { throw status.error("202 is not a final status") }
        }
        if let delay = keys["delay"] { handler.delay = try delay.duration() }
        if let progress = keys["progress"] {
            let settings = try progress.mapping(keys: ["steps", "every"])
            guard let steps = settings["steps"] else { throw progress.error("missing key steps") }
            handler.progressSteps = try steps.int(in: 1...1000)
            if let every = settings["every"] { handler.progressEvery = try every.duration() }
        }
        if let offline = keys["offline"] { handler.offline = try offline.duration(atLeast: .milliseconds(1)) }
        return handler
    }

    private static func parseAnswer(_ node: ConfigNode) throws(ConfigError) -> Answer {
        if case .some("echo") = try? node.string() { return .echo }
        let (kind, settings) = try node.oneOf(["json", "text"])
        return kind == "json" ? .json(try DeviceProfile.jsonText(settings)) : .text(try settings.string())
    }
}
