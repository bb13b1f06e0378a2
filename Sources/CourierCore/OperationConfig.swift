/// What an operation's payload must be for the bridge to accept it.
package enum ContentCheck: String, Sendable, Codable {
    /// Any bytes.
    case any
    /// A well-formed JSON document.
    case json
}

/// One configured operation: its checks, deadlines and retries.
package struct OperationConfig: Sendable, Equatable {
    package var name: String
    package var content: ContentCheck
    /// The whole deadline, retries included.
    package var timeout: Duration
    /// How long one worker attempt may take before it is retried.
    package var attemptTimeout: Duration
    package var maxAttempts: Int
    package var maxPayloadBytes: Int
    /// Answer 202 on receipt, before the final reply.
    package var ack: Bool

    package init(
        name: String,
        content: ContentCheck = .any,
        timeout: Duration = .seconds(10),
        attemptTimeout: Duration? = nil,
        maxAttempts: Int = 3,
        maxPayloadBytes: Int = 262_144,
        ack: Bool = false
    ) {
        self.name = name
        self.content = content
        self.timeout = timeout
        self.attemptTimeout = attemptTimeout ?? min(timeout, .seconds(3))
        self.maxAttempts = maxAttempts
        self.maxPayloadBytes = maxPayloadBytes
        self.ack = ack
    }
}
