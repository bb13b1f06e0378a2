/// A `topics:` template that breaks a rule of the layout: the key (`request`, `cancel`...) and
/// what is wrong. The configuration loader turns it into a ``ConfigError`` at `topics.{key}`.
public struct TopicLayoutError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong with one template, before it is known which key holds it.
    struct Problem: Error {
        var message: String

        init(_ message: String) { self.message = message }
    }

    public var key: String
    public var message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "topics.\(key): \(message)" }
}
