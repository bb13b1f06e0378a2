/// A `topics:` template that breaks a rule of the layout: the key (`request`, `cancel`...) and
/// what is wrong. The configuration loader turns it into a ``ConfigError`` at `topics.{key}`.
package struct TopicLayoutError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong with one template, before it is known which key holds it.
    struct Problem: Error {
        var message: String

        init(_ message: String) { self.message = message }
    }

    package var key: String
    package var message: String

    package init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    package var description: String { "topics.\(key): \(message)" }
}
