import CourierBridge
import Foundation

/// One page of `GET /v1/requests`: `{"requests":[...],"next":"cursor-or-null"}`, newest first.
/// Pass `next` back as `cursor` for the following page; it is null on the last one.
public struct RequestPage: Codable, Sendable, Equatable {
    public var requests: [RequestStatus]
    public var next: String?

    public init(requests: [RequestStatus], next: String?) {
        self.requests = requests
        self.next = next
    }

    private enum CodingKeys: String, CodingKey { case requests, next }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(requests, forKey: .requests)
        try container.encode(next, forKey: .next)
    }
}

/// One page of `GET /v1/deadletters`: `{"deadLetters":[...],"next":"cursor-or-null"}`, newest
/// first, each entry the JSON also published to `courier/deadletters/{operation}`.
public struct DeadLetterPage: Codable, Sendable, Equatable {
    public var deadLetters: [DeadLetter]
    public var next: String?

    public init(deadLetters: [DeadLetter], next: String?) {
        self.deadLetters = deadLetters
        self.next = next
    }

    private enum CodingKeys: String, CodingKey { case deadLetters, next }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(deadLetters, forKey: .deadLetters)
        try container.encode(next, forKey: .next)
    }
}
