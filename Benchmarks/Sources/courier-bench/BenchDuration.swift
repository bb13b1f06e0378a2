import ArgumentParser

/// A duration given on the command line as Courier writes them: `500ms`, `10s`, `2m`; a bare
/// number is seconds.
struct BenchDuration: ExpressibleByArgument, CustomStringConvertible, Sendable {
    let duration: Duration
    private let text: String

    init?(argument: String) {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        let unit = units.first { argument.hasSuffix($0.suffix) && Double(argument.dropLast($0.suffix.count)) != nil }
        guard let value = Double(unit.map { String(argument.dropLast($0.suffix.count)) } ?? argument),
            value.isFinite, value >= 0
        else { return nil }
        duration = .seconds(value * (unit?.seconds ?? 1))
        text = argument
    }

    var description: String { text }

    var defaultValueDescription: String { text }
}
