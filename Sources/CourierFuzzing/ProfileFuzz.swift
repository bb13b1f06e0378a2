import CourierConfig
import CourierCore
import CourierDevices
import Foundation

/// `profile`: the YAML text of a device profile for `courier devices`.
///
/// A profile is either read with every value in its documented range, or refused with a
/// ``ConfigError`` that names the file and a line of it.
enum ProfileFuzz {
    static func run(_ input: Data) throws(FuzzFailure) {
        let yaml = text(input)
        let profile: DeviceProfile
        do {
            profile = try DeviceProfile.parse(yaml: yaml, file: ConfigFuzz.file)
        } catch {
            try ConfigFuzz.checkError(error, yaml: yaml, .profile)
            return
        }
        try require((1...1_000_000).contains(profile.deviceCount), .profile, "devices.count \(profile.deviceCount)")
        try require(Topics.isValidID(profile.idPrefix) && profile.idPrefix.utf8.count <= 56, .profile, "idPrefix \(TopicsFuzz.debug(profile.idPrefix))")
        try require(Topics.isValidID(profile.deviceID(profile.deviceCount - 1)), .profile, "device id \(profile.deviceID(profile.deviceCount - 1))")
        try require(!profile.operations.isEmpty && (0...1).contains(profile.qos) && profile.timeout >= .milliseconds(1), .profile, "operations, qos \(profile.qos) or timeout \(profile.timeout)")
        for operation in profile.operations {
            try require(Topics.isValidID(operation.name) && operation.weight > 0 && operation.weight.isFinite, .profile, "operation \(operation.name) weight \(operation.weight)")
            try require((100...599).contains(operation.expectStatus), .profile, "expectStatus \(operation.expectStatus)")
            switch operation.payload {
            case .json(let json):
                let parsed = try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
                try require(parsed != nil, .profile, "a json payload that is not JSON: \(json)")
            case .telemetry(let telemetry):
                try require((1...100_000).contains(telemetry.readings) && telemetry.mean.isFinite && telemetry.noise.isFinite && telemetry.noise >= 0, .profile, "telemetry \(telemetry)")
                try require(telemetry.threshold.map { $0 > 0 && $0.isFinite } ?? true, .profile, "threshold \(String(describing: telemetry.threshold))")
            case .echo(let bytes):
                try require(bytes >= 0, .profile, "echo bytes \(bytes)")
            case .text:
                break
            }
        }
        switch profile.mode {
        case .closed(let outstanding): try require((1...1024).contains(outstanding), .profile, "outstanding \(outstanding)")
        case .rate(let rate): try require(rate > 0 && rate.isFinite, .profile, "rate \(rate)")
        }
        switch profile.length {
        case .duration(let duration): try require(duration >= .milliseconds(1), .profile, "duration \(duration)")
        case .requestsPerDevice(let count): try require(count >= 1, .profile, "requestsPerDevice \(count)")
        }
    }
}
