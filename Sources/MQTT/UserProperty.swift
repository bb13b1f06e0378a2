/// One MQTT 5 user property. Order and repetition are significant, so lists of these are kept
/// as arrays rather than dictionaries.
public struct UserProperty: Sendable, Hashable, Codable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

extension Array where Element == UserProperty {
    /// The value of the first property with this name.
    public func first(named name: String) -> String? {
        first { $0.name == name }?.value
    }
}
