import Foundation

/// SplitMix64: small, fast, and repeatable from a seed, so a profile with `seed:` sends the
/// same operations and payloads on every run.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Picks operations by weight and makes their payloads.
struct RequestMaker: Sendable {
    let operations: [DeviceProfile.Operation]
    /// Running sums of the weights, for a binary search of a uniform draw.
    private let cumulative: [Double]

    init(operations: [DeviceProfile.Operation]) {
        self.operations = operations
        var sum = 0.0
        cumulative = operations.map { operation in
            sum += operation.weight
            return sum
        }
    }

    /// The index of an operation, drawn by weight.
    func pick(using random: inout some RandomNumberGenerator) -> Int {
        guard let total = cumulative.last, total > 0, operations.count > 1 else { return 0 }
        let draw = Double.random(in: 0..<total, using: &random)
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if draw < cumulative[middle] { high = middle } else { low = middle + 1 }
        }
        return low
    }

    static func payload(_ payload: DeviceProfile.Payload, using random: inout some RandomNumberGenerator) -> Data {
        switch payload {
        case .echo(let bytes):
            // Printable ASCII, so that a payload shown in a log reads as text.
            var data = Data(count: bytes)
            for index in 0..<bytes { data[index] = UInt8.random(in: 0x21...0x7E, using: &random) }
            return data
        case .telemetry(let telemetry):
            return telemetryJSON(telemetry, using: &random)
        case .json(let text), .text(let text):
            return Data(text.utf8)
        }
    }

    private static func telemetryJSON(_ telemetry: DeviceProfile.Telemetry, using random: inout some RandomNumberGenerator) -> Data {
        var readings: [String] = []
        readings.reserveCapacity(telemetry.readings)
        for _ in 0..<telemetry.readings {
            var value = telemetry.mean
            if telemetry.noise > 0 { value += Double.random(in: -telemetry.noise...telemetry.noise, using: &random) }
            if telemetry.outlierChance > 0, Double.random(in: 0..<1, using: &random) < telemetry.outlierChance {
                let sign: Double = Bool.random(using: &random) ? 1 : -1
                value += sign * telemetry.outlierSize * max(telemetry.noise, 1)
            }
            // Two decimals, as a sensor would report them.
            readings.append(String(format: "%.2f", value))
        }
        var fields: [String] = []
        if let sensor = telemetry.sensor { fields.append("\"sensor\":\(jsonString(sensor))") }
        fields.append("\"readings\":[\(readings.joined(separator: ","))]")
        if let threshold = telemetry.threshold { fields.append("\"threshold\":\(threshold)") }
        return Data("{\(fields.joined(separator: ","))}".utf8)
    }

    private static func jsonString(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}
