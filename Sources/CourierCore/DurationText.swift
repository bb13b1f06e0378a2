import Foundation

/// Parses and prints durations as the configuration writes them: `500ms`, `10s`, `2m`, `1h`, `7d`.
package enum DurationText {
    /// Parses `<integer><unit>` with unit `ms`, `s`, `m`, `h` or `d`; nil when the text is not one.
    package static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, (Int64) -> Duration)] = [
            ("ms", { .milliseconds($0) }),
            ("s", { .seconds($0) }),
            ("m", { .seconds($0 * 60) }),
            ("h", { .seconds($0 * 3600) }),
            ("d", { .seconds($0 * 86_400) }),
        ]
        for (suffix, make) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            guard !number.isEmpty, number.allSatisfy(\.isASCIIDigit), let value = Int64(number) else {
                return nil
            }
            return make(value)
        }
        return nil
    }

    /// The shortest exact text for a duration (`1500ms`, `10s`, `2m`, `1h`).
    package static func format(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        if ms % 86_400_000 == 0, ms > 0 { return "\(ms / 86_400_000)d" }
        if ms % 3_600_000 == 0, ms > 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0, ms > 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
