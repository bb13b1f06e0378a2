import CourierConfig
import CourierCore
import Foundation

extension DeviceProfile {
    static let topKeys = ["name", "description", "protocol", "devices", "operations", "mode", "duration", "requestsPerDevice", "timeout", "qos", "seed", "commands"]

    /// Parses a profile from YAML text; `file` names it in errors.
    ///
    /// ```yaml
    /// name: thermostat
    /// protocol: mqtt5                 # mqtt5 | mqtt311
    /// devices: { count: 100, idPrefix: thermostat }
    /// operations:
    ///   - operation: telemetry.summary
    ///     weight: 4
    ///     payload: { telemetry: { sensor: temp, readings: 24, mean: 21.5, noise: 0.4 } }
    ///   - operation: echo
    ///     weight: 1
    ///     payload: { echo: { bytes: 64 } }
    /// mode: { closed: { outstanding: 1 } }   # or { rate: { requestsPerSecond: 200 } }
    /// duration: 30s                          # or requestsPerDevice: 20
    /// timeout: 10s
    /// commands:                              # optional: see CommandHandler.parse
    ///   - command: reboot
    ///     delay: 200ms
    /// ```
    ///
    /// A profile with commands may leave out `operations`: its devices only answer commands,
    /// for the run's `duration`.
    package static func parse(yaml: String, file: String? = nil) throws(ConfigError) -> DeviceProfile {
        guard let root = try ConfigNode.document(yaml: yaml, file: file) else {
            throw ConfigError(file: file, key: "", message: "the profile is empty")
        }
        let top = try root.mapping(keys: topKeys)
        func required(_ key: String) throws(ConfigError) -> ConfigNode {
            guard let node = top[key], !node.isNull else { throw root.error("missing key \(key)") }
            return node
        }

        let name = try required("name").string()
        let description = try top["description"].map { node throws(ConfigError) in try node.string() }
        var convention = Convention.mqtt5
        if let node = top["protocol"] {
            let text = try node.string()
            guard let value = Convention(rawValue: text) else { throw node.error("\"\(text)\" is not mqtt5 or mqtt311") }
            convention = value
        }

        let devicesNode = try required("devices")
        let devices = try devicesNode.mapping(keys: ["count", "idPrefix"])
        guard let countNode = devices["count"] else { throw devicesNode.error("missing key count") }
        let count = try countNode.int(in: 1...1_000_000)
        guard let prefixNode = devices["idPrefix"] else { throw devicesNode.error("missing key idPrefix") }
        // Room for "-" and up to seven digits within the 64-character device id.
        let idPrefix = try prefixNode.string()
        guard Topics.isValidID(idPrefix), idPrefix.utf8.count <= 56 else {
            throw prefixNode.error("\"\(idPrefix)\" must be 1 to 56 characters from A-Z a-z 0-9 _ . -")
        }

        var commands: [CommandHandler] = []
        if let node = top["commands"], !node.isNull {
            for item in try node.sequence() {
                let handler = try CommandHandler.parse(item)
                if commands.contains(where: { $0.command == handler.command }) {
                    throw item.error("command \"\(handler.command)\" is listed twice")
                }
                commands.append(handler)
            }
        }

        var operations: [Operation] = []
        if commands.isEmpty || top["operations"] != nil {
            let operationNodes = try required("operations").sequence()
            guard !operationNodes.isEmpty else { throw try required("operations").error("needs at least one operation") }
            for node in operationNodes {
                operations.append(try operation(node))
            }
        }

        var mode = Mode.closed(outstanding: 1)
        if let node = top["mode"] {
            let (kind, settings) = try node.oneOf(["closed", "rate"])
            switch kind {
            case "closed":
                let keys = try settings.mapping(keys: ["outstanding"])
                mode = .closed(outstanding: try keys["outstanding"]?.int(in: 1...1024) ?? 1)
            default:
                let keys = try settings.mapping(keys: ["requestsPerSecond"])
                guard let rate = keys["requestsPerSecond"] else { throw settings.error("missing key requestsPerSecond") }
                mode = .rate(requestsPerSecond: try rate.double(in: 0.001...1_000_000))
            }
        }

        let length: Length
        switch (top["duration"], top["requestsPerDevice"]) {
        case (let duration?, nil): length = .duration(try duration.duration(atLeast: .milliseconds(1)))
        case (nil, let requests?):
            if operations.isEmpty { throw requests.error("devices that only answer commands run for a duration") }
            length = .requestsPerDevice(try requests.int(in: 1...100_000_000))
        case (nil, nil): throw root.error("missing key duration or requestsPerDevice (how long the run sends)")
        case (_, let requests?): throw requests.error("give duration or requestsPerDevice, not both")
        }

        let timeout = try top["timeout"]?.duration(atLeast: .milliseconds(1)) ?? .seconds(10)
        let qos = try top["qos"]?.int(in: 0...1) ?? 1
        let seed = try top["seed"].map { node throws(ConfigError) in UInt64(try node.int(in: 0...Int.max)) }

        return DeviceProfile(
            name: name,
            description: description,
            convention: convention,
            deviceCount: count,
            idPrefix: idPrefix,
            operations: operations,
            mode: mode,
            length: length,
            timeout: timeout,
            qos: qos,
            seed: seed,
            commands: commands
        )
    }

    private static func operation(_ node: ConfigNode) throws(ConfigError) -> Operation {
        let keys = try node.mapping(keys: ["operation", "weight", "payload", "expectStatus"])
        guard let nameNode = keys["operation"] else { throw node.error("missing key operation") }
        let name = try nameNode.id()
        let weight = try keys["weight"]?.double(in: 0...1_000_000) ?? 1
        if weight <= 0, let weightNode = keys["weight"] { throw weightNode.error("must be greater than 0") }
        guard let payloadNode = keys["payload"] else { throw node.error("missing key payload") }
        let expectStatus = try keys["expectStatus"]?.int(in: 100...599) ?? 200
        return Operation(name: name, weight: weight, payload: try payload(payloadNode), expectStatus: expectStatus)
    }

    private static func payload(_ node: ConfigNode) throws(ConfigError) -> Payload {
        let (kind, settings) = try node.oneOf(["echo", "telemetry", "json", "text"])
        switch kind {
        case "echo":
            let keys = try settings.mapping(keys: ["bytes"])
            guard let bytes = keys["bytes"] else { throw settings.error("missing key bytes") }
            return .echo(bytes: try bytes.int(in: 0...16 * 1024 * 1024))
        case "telemetry":
            let keys = try settings.mapping(keys: ["sensor", "readings", "mean", "noise", "threshold", "outlierChance", "outlierSize"])
            guard let readings = keys["readings"] else { throw settings.error("missing key readings") }
            let threshold = try keys["threshold"]?.double(in: 0...1_000_000)
            if threshold == 0, let node = keys["threshold"] { throw node.error("must be greater than 0") }
            return .telemetry(
                Telemetry(
                    sensor: try keys["sensor"]?.string(),
                    readings: try readings.int(in: 1...100_000),
                    mean: try keys["mean"]?.double(in: -1e12...1e12) ?? 20,
                    noise: try keys["noise"]?.double(in: 0...1e12) ?? 1,
                    threshold: threshold,
                    outlierChance: try keys["outlierChance"]?.double(in: 0...1) ?? 0,
                    outlierSize: try keys["outlierSize"]?.double(in: 0...1e6) ?? 10
                )
            )
        case "json":
            return .json(try jsonText(settings))
        default:
            return .text(try settings.string())
        }
    }

    /// A YAML value written as compact, key-sorted JSON.
    static func jsonText(_ node: ConfigNode) throws(ConfigError) -> String {
        let value = try node.jsonValue()
        guard JSONSerialization.isValidJSONObject([value]),
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
        else { throw node.error("cannot be written as JSON") }
        return String(decoding: data, as: UTF8.self)
    }
}
