import CourierCore
import Foundation
import MQTT

/// User property lists as every store keeps them: a JSON array of `{"name": ..., "value": ...}`
/// objects, in order, with sorted keys; `[]` when empty.
package enum StoredProperties {
    package static func json(_ properties: [UserProperty]) throws -> String {
        if properties.isEmpty { return "[]" }  // the common case, without an encoder
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(properties), as: UTF8.self)
    }

    /// The list a stored text holds; nil when it holds none.
    package static func properties(_ json: String) -> [UserProperty]? {
        if json == "[]" { return [] }  // the common case, without a decoder
        return try? JSONDecoder().decode([UserProperty].self, from: Data(json.utf8))
    }
}
