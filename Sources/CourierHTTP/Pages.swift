import CourierBridge
import Foundation

/// One page of `GET /v1/requests`: `{"requests":[...],"next":"cursor-or-null"}`, newest first.
/// Pass `next` back as `cursor` for the following page; it is null on the last one.
package struct RequestPage: Codable, Sendable, Equatable {
    package var requests: [RequestStatus]
    package var next: String?

    package init(requests: [RequestStatus], next: String?) {
        self.requests = requests
        self.next = next
    }

    private enum CodingKeys: String, CodingKey { case requests, next }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(requests, forKey: .requests)
        try container.encode(next, forKey: .next)
    }
}

/// One page of `GET /v1/deadletters`: `{"deadLetters":[...],"next":"cursor-or-null"}`, newest
/// first, each entry the JSON also published to `courier/deadletters/{operation}`.
package struct DeadLetterPage: Codable, Sendable, Equatable {
    package var deadLetters: [DeadLetter]
    package var next: String?

    package init(deadLetters: [DeadLetter], next: String?) {
        self.deadLetters = deadLetters
        self.next = next
    }

    private enum CodingKeys: String, CodingKey { case deadLetters, next }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(deadLetters, forKey: .deadLetters)
        try container.encode(next, forKey: .next)
    }
}
