import Foundation

/// The `wait` preference of a `Prefer` header (RFC 7240): how long a client is willing to wait
/// for the final answer before it takes a 202.
enum WaitPreference {
    /// The longest wait honoured, in seconds; larger values are cut to it.
    static let maximumSeconds = 60

    /// The wait asked for by the `Prefer` header values, capped at ``maximumSeconds``; nil when
    /// none asks for one or the value is not a whole number of seconds. Preferences are
    /// comma-separated, may carry `;` parameters, and their names are case-insensitive:
    /// `Prefer: respond-async, wait=10`.
    static func seconds(in values: [String]) -> Int? {
        for value in values {
            for preference in value.split(separator: ",") {
                let token = preference.split(separator: ";", maxSplits: 1).first ?? ""
                let parts = token.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, parts[0].lowercased() == "wait" else { continue }
                let number = parts[1].hasPrefix("\"") && parts[1].hasSuffix("\"") && parts[1].count >= 2
                    ? String(parts[1].dropFirst().dropLast()) : parts[1]
                guard let seconds = Int(number), seconds >= 0 else { return nil }
                return min(seconds, maximumSeconds)
            }
        }
        return nil
    }
}
