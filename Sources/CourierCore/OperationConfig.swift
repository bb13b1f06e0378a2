/// What an operation's payload must be for the bridge to accept it.
public enum ContentCheck: String, Sendable, Codable {
    /// Any bytes.
    case any
    /// A well-formed JSON document.
    case json
}

/// One configured operation: its checks, deadlines and retries.
public struct OperationConfig: Sendable, Equatable {
    public var name: String
    public var content: ContentCheck
    /// The whole deadline, retries included.
    public var timeout: Duration
    /// How long one worker attempt may take before it is retried.
    public var attemptTimeout: Duration
    public var maxAttempts: Int
    public var maxPayloadBytes: Int
    /// Answer 202 on receipt, before the final reply.
    public var ack: Bool

    public init(
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
