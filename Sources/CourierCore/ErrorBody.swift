import Foundation

/// The JSON body of every error reply: `{"error":{"status":504,"code":"timeout","message":"..."}}`.
public struct ErrorBody: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var status: Int
        public var code: String
        public var message: String
    }

    public var error: Detail

    public init(status: Int, code: String, message: String) {
        error = Detail(status: status, code: code, message: message)
    }

    public init(_ code: ReplyCode, message: String) {
        self.init(status: code.status, code: code.rawValue, message: message)
    }

    /// The encoded body, keys in a stable order.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding three plain fields cannot fail.
        return (try? encoder.encode(self)) ?? Data()
    }

    /// The content type of error bodies.
    package static let contentType = "application/json"
}
