import CourierCore
import Foundation

extension ConfigLoader {
    /// Parses the YAML text of a configuration file over `defaults`. `file` is only used to
    /// locate problems. Keys that are absent keep their defaults; `operations`, when present,
    /// replaces the built-in list. Environment variables are not applied here.
    package static func parse(
        yaml: String,
        file: String,
        defaults: CourierConfiguration = CourierConfiguration()
    ) throws -> CourierConfiguration {
        var configuration = defaults
        guard let document = try ConfigNode.document(yaml: yaml, file: file) else { return configuration }
        let sections = try document.mapping(keys: [
            "broker", "bridge", "store", "http", "limits", "operations", "commands", "workers", "replyQoS", "log", "topics",
        ])
        // Operations first: `workers.operations` is checked against them.
        if let node = sections["operations"] { configuration.operations = try operations(node) }
        if let node = sections["commands"] { configuration.commands = try operations(node, section: "commands") }
        if let node = sections["broker"] { try broker(node, into: &configuration.broker) }
        if let node = sections["bridge"] {
            let keys = try node.mapping(keys: ["id", "leaseTimeout", "progressInterval"])
            if let id = keys["id"] { configuration.bridgeID = try id.id() }
            if let lease = keys["leaseTimeout"] { configuration.leaseTimeout = try lease.duration(atLeast: .seconds(1)) }
            if let interval = keys["progressInterval"] { configuration.progressInterval = try interval.duration() }
        }
        if let node = sections["store"] { try store(node, into: &configuration.store) }
        if let node = sections["http"] {
            let keys = try node.mapping(keys: ["address", "tokens"])
            if let address = keys["address"] {
                let text = try address.string()
                if let problem = ConfigRules.address(text) { throw address.error(problem) }
                configuration.httpAddress = text
            }
            if let tokens = keys["tokens"], !tokens.isNull { configuration.httpTokensFile = try tokens.nonEmptyString() }
        }
        if let node = sections["limits"] { try limits(node, into: &configuration.limits) }
        if let node = sections["workers"] {
            try workers(node, operations: configuration.operations, into: &configuration.workers)
        }
        if let node = sections["topics"] { configuration.topics = try topics(node) }
        if let node = sections["replyQoS"] { configuration.replyQoS = try node.int(in: 0...1) }
        if let node = sections["log"] {
            if let level = try node.mapping(keys: ["level"])["level"] {
                let text = try level.string()
                if let problem = ConfigRules.logLevel(text) { throw level.error(problem) }
                configuration.logLevel = text
            }
        }
        return configuration
    }

    // MARK: Sections

    private static func broker(_ node: ConfigNode, into broker: inout CourierConfiguration.Broker) throws {
        let keys = try node.mapping(keys: ["url", "username", "password", "passwordFile", "tls"])
        if let url = keys["url"] {
            let text = try url.string()
            if let problem = ConfigRules.brokerURL(text) { throw url.error(problem) }
            broker.url = text
        }
        if let username = keys["username"], !username.isNull { broker.username = try username.nonEmptyString() }
        if let password = keys["password"], !password.isNull { broker.password = try password.string() }
        if let passwordFile = keys["passwordFile"], !passwordFile.isNull {
            if broker.password != nil {
                throw passwordFile.error("set password or passwordFile, not both")
            }
            broker.passwordFile = try passwordFile.nonEmptyString()
        }
        if let tlsNode = keys["tls"], !tlsNode.isNull {
            let files = try tlsNode.mapping(keys: ["caFile", "certFile", "keyFile"])
            var tls = CourierConfiguration.TLS()
            func path(_ key: String) throws -> String? {
                guard let value = files[key], !value.isNull else { return nil }
                return try value.nonEmptyString()
            }
            tls.caFile = try path("caFile")
            tls.certFile = try path("certFile")
            tls.keyFile = try path("keyFile")
            if (tls.certFile == nil) != (tls.keyFile == nil) {
                let present = files[tls.certFile == nil ? "keyFile" : "certFile"] ?? tlsNode
                throw present.error("a client certificate needs both certFile and keyFile")
            }
            broker.tls = tls
        }
    }

    private static func store(_ node: ConfigNode, into store: inout CourierConfiguration.Store) throws {
        let keys = try node.mapping(keys: ["path", "url", "retention", "deadLetterRetention"])
        if let path = keys["path"] { store.use(path: try path.nonEmptyString()) }
        if let url = keys["url"] {
            if keys["path"] != nil { throw url.error("set url or path, not both") }
            do {
                try store.use(url: try url.nonEmptyString())
            } catch let error as StoreURLError {
                throw url.error(error.message)
            }
        }
        if let retention = keys["retention"] { store.retention = try retention.duration() }
        if let retention = keys["deadLetterRetention"] { store.deadLetterRetention = try retention.duration() }
    }

    private static func limits(_ node: ConfigNode, into limits: inout CourierConfiguration.Limits) throws {
        let keys = try node.mapping(keys: ["maxPendingPerDevice", "maxPendingTotal", "maxCorrelationDataBytes"])
        if let value = keys["maxPendingPerDevice"] { limits.maxPendingPerDevice = try value.int(in: 1...Int.max) }
        if let value = keys["maxPendingTotal"] { limits.maxPendingTotal = try value.int(in: 1...Int.max) }
        if let value = keys["maxCorrelationDataBytes"] {
            limits.maxCorrelationDataBytes = try value.int(in: 1...65535)
        }
    }

    /// The `operations:` list, or with `section: "commands"` the `commands:` list (the same keys
    /// but `ack`; it may be empty).
    private static func operations(_ node: ConfigNode, section: String = "operations") throws -> [OperationConfig] {
        let items = try node.sequence()
        guard !items.isEmpty || section == "commands" else {
            throw node.error("must list at least one operation (or leave the key out for the built-in ones)")
        }
        var operations: [OperationConfig] = []
        var firstIndex: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            let keys = try item.mapping(
                keys: ["name", "content", "timeout", "attemptTimeout", "maxAttempts", "maxPayloadBytes"] + (section == "commands" ? [] : ["ack"]))
            guard let nameNode = keys["name"] else { throw item.error("needs a name") }
            let name = try nameNode.id()
            if let first = firstIndex[name] {
                throw nameNode.error("\(quoted(name)) is already configured at \(section)[\(first)]")
            }
            firstIndex[name] = index

            var content = ContentCheck.any
            if let node = keys["content"] {
                let text = try node.string()
                guard let check = ContentCheck(rawValue: text) else {
                    throw node.error("\(quoted(text)) is not a content check (write any or json)")
                }
                content = check
            }
            let defaults = OperationConfig(name: name)
            let timeout = try keys["timeout"]?.duration(atLeast: .milliseconds(1)) ?? defaults.timeout
            var attemptTimeout: Duration?
            if let node = keys["attemptTimeout"] {
                let value = try node.duration(atLeast: .milliseconds(1))
                guard value <= timeout else {
                    let (attempt, whole) = (DurationText.format(value), DurationText.format(timeout))
                    throw node.error("\(attempt) is longer than the \(section == "commands" ? "command" : "operation")'s timeout (\(whole))")
                }
                attemptTimeout = value
            }
            operations.append(
                OperationConfig(
                    name: name,
                    content: content,
                    timeout: timeout,
                    attemptTimeout: attemptTimeout,
                    maxAttempts: try keys["maxAttempts"]?.int(in: 1...1000) ?? defaults.maxAttempts,
                    maxPayloadBytes: try keys["maxPayloadBytes"]?.int(in: 1...ConfigRules.maxPayloadBytes)
                        ?? defaults.maxPayloadBytes,
                    ack: try keys["ack"]?.bool() ?? defaults.ack
                )
            )
        }
        return operations
    }

    private static func workers(
        _ node: ConfigNode,
        operations: [OperationConfig],
        into workers: inout CourierConfiguration.Workers
    ) throws {
        let keys = try node.mapping(keys: ["concurrency", "operations", "id", "dispatch"])
        if let value = keys["concurrency"] { workers.concurrency = try value.int(in: 1...65535) }
        if let value = keys["dispatch"] {
            let text = try value.string()
            guard let dispatch = CourierConfiguration.Workers.Dispatch(rawValue: text) else {
                throw value.error("\(quoted(text)) is not a dispatch mode (write shared or direct)")
            }
            workers.dispatch = dispatch
        }
        if let value = keys["id"], !value.isNull { workers.id = try value.id() }
        if let value = keys["operations"] {
            var names: [String] = []
            for item in try value.sequence() {
                let name = try item.id()
                if let problem = workerOperationProblem(name, names: names, operations: operations) {
                    throw item.error(problem)
                }
                names.append(name)
            }
            workers.operations = names
        }
    }

    /// Why a worker cannot serve this operation, if it cannot.
    static func workerOperationProblem(_ name: String, names: [String], operations: [OperationConfig]) -> String? {
        if names.contains(name) { return "\(quoted(name)) is listed twice" }
        guard operations.contains(where: { $0.name == name }) else {
            let configured = operations.map(\.name).joined(separator: ", ")
            return "\(quoted(name)) is not a configured operation (configured: \(configured))"
        }
        return nil
    }
}
