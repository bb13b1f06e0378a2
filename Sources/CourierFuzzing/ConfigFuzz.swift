import CourierConfig
import CourierCore
import Foundation
import MQTT

/// `config`: the YAML text of a configuration file, parsed over the defaults.
///
/// A file is either read into a configuration that keeps every rule the loader enforces, or
/// refused with a ``ConfigError`` that names the file and a line of it.
enum ConfigFuzz {
    static let file = "fuzz.yaml"

    static func run(_ input: Data) throws(FuzzFailure) {
        let yaml = text(input)
        let configuration: CourierConfiguration
        do {
            configuration = try ConfigLoader.parse(yaml: yaml, file: file)
        } catch {
            try checkError(error, yaml: yaml, .config)
            return
        }
        let names = configuration.operations.map(\.name)
        try require(!names.isEmpty && Set(names).count == names.count && names.allSatisfy(Topics.isValidID), .config, "operations \(names)")
        for operation in configuration.operations {
            try require(operation.timeout >= .milliseconds(1) && operation.attemptTimeout >= .milliseconds(1) && operation.attemptTimeout <= operation.timeout, .config, "\(operation.name): timeout \(operation.timeout), attemptTimeout \(operation.attemptTimeout)")
            try require((1...1000).contains(operation.maxAttempts) && operation.maxPayloadBytes >= 1, .config, "\(operation.name): maxAttempts \(operation.maxAttempts), maxPayloadBytes \(operation.maxPayloadBytes)")
        }
        let workers = configuration.workers
        try require(Set(workers.operations).count == workers.operations.count && workers.operations.allSatisfy(names.contains), .config, "workers.operations \(workers.operations) for \(names)")
        try require((1...65535).contains(workers.concurrency) && (workers.id.map(Topics.isValidID) ?? true), .config, "workers \(workers)")
        try require(Topics.isValidID(configuration.bridgeID), .config, "bridge.id \(TopicsFuzz.debug(configuration.bridgeID))")
        try require((0...1).contains(configuration.replyQoS), .config, "replyQoS \(configuration.replyQoS)")
        let limits = configuration.limits
        try require(limits.maxPendingPerDevice >= 1 && limits.maxPendingTotal >= 1 && (1...65535).contains(limits.maxCorrelationDataBytes), .config, "limits \(limits)")
        let broker = configuration.broker
        try require(broker.password == nil || broker.passwordFile == nil, .config, "both password and passwordFile")
        if let tls = broker.tls {
            try require((tls.certFile == nil) == (tls.keyFile == nil), .config, "certFile without keyFile: \(tls)")
        }
        // What `courier config check` accepts, the daemons must be able to connect with.
        do {
            let mqtt = try MQTTConfiguration(url: broker.url, clientID: "fuzz")
            try require(mqtt.usesTLS == broker.url.lowercased().hasPrefix("mqtts://"), .config, "broker.url \(TopicsFuzz.debug(broker.url)) connects with TLS \(mqtt.usesTLS ? "on" : "off")")
        } catch {
            throw FuzzFailure(.config, "broker.url \(TopicsFuzz.debug(broker.url)) is accepted, but a daemon would refuse it: \(error)")
        }
    }

    /// A refusal must be a ``ConfigError`` naming `file`, with a line inside the text when it
    /// has one, and a message.
    static func checkError(_ error: any Error, yaml: String, _ target: FuzzTarget) throws(FuzzFailure) {
        guard let error = error as? ConfigError else {
            throw FuzzFailure(target, "refused with \(type(of: error)), not a ConfigError: \(error)")
        }
        try require(error.file == file && !error.message.isEmpty, target, "an error without file or message: \(error)")
        if let line = error.line {
            // YAML 1.1 breaks lines at \n, \r, NEL, LS and PS (\r\n counted twice here, which
            // only loosens the bound); one past the last line is where an unexpected end of the
            // text is reported.
            let breaks: Set<Unicode.Scalar> = ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"]
            let lines = yaml.unicodeScalars.count(where: breaks.contains) + 2
            try require((1...lines).contains(line), target, "line \(line) of a text of at most \(lines - 1) lines: \(error)")
        }
    }
}
