import Foundation

/// The one codec of the message that tells workers a request was cancelled: JSON
/// `{"id":"<the bridge's request id>"}` on `courier/cancellations` (``Topics/cancellations``),
/// QoS 1, heard by every worker. Workers in other languages read the same field.
package enum CancellationMessage {
    private struct Body: Codable {
        var id: String
    }

    package static func encode(requestID: String) -> Data {
        // A struct of one string cannot fail to encode.
        (try? JSONCoding.encode(Body(id: requestID))) ?? Data()
    }

    /// The request id; nil for a payload that is not such a message.
    package static func decode(_ payload: Data) -> String? {
        guard let body = try? JSONDecoder().decode(Body.self, from: payload), !body.id.isEmpty else { return nil }
        return body.id
    }
}
