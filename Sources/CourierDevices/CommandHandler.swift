/// How a simulated device answers one command (SPEC "Commands to devices"), from a profile's
/// `commands:` list. A device runs a command once per command id: a repeated attempt with the
/// same id gets the same answer again (or 202 while it still runs) and is counted as a repeat.
///
/// The steps, in order: go offline for ``offline`` (disconnect, then come back to the same
/// persistent session, so commands sent meanwhile wait at the broker), send ``progressSteps``
/// 102s, one every ``progressEvery``, wait ``delay``, then answer with ``status``.
package struct CommandHandler: Sendable, Equatable {
    /// What the final answer carries.
    package enum Answer: Sendable, Equatable {
        /// The command's own payload and content type.
        case echo
        /// The same JSON document every time.
        case json(String)
        /// The same text every time.
        case text(String)
    }

    package var command: String
    package var answer: Answer
    /// The final status: 200, or a failure such as 500.
    package var status: Int
    package var delay: Duration
    package var progressSteps: Int
    package var progressEvery: Duration
    /// How long the device stays offline before it runs the command; nil to stay online.
    package var offline: Duration?

    package init(
        command: String,
        answer: Answer = .echo,
        status: Int = 200,
        delay: Duration = .zero,
        progressSteps: Int = 0,
        progressEvery: Duration = .milliseconds(100),
        offline: Duration? = nil
    ) {
        self.command = command
        self.answer = answer
        self.status = status
        self.delay = delay
        self.progressSteps = progressSteps
        self.progressEvery = progressEvery
        self.offline = offline
    }
}
