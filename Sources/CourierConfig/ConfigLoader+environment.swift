import Foundation
import CourierCore

/// One `COURIER_*` variable and how it changes the configuration.
struct EnvironmentOverride: Sendable {
    let name: String
    let apply: @Sendable (String, inout CourierConfiguration) throws(ConfigRules.Problem) -> Void

    /// Every override, in the order they are applied.
    static let all: [EnvironmentOverride] = [
        EnvironmentOverride(name: "COURIER_BROKER_URL") { value, config throws(ConfigRules.Problem) in
            try checked(ConfigRules.brokerURL(value))
            config.broker.url = value
        },
        EnvironmentOverride(name: "COURIER_BROKER_USERNAME") { value, config in
            config.broker.username = value
        },
        EnvironmentOverride(name: "COURIER_BROKER_PASSWORD") { value, config in
            config.broker.password = value
            config.broker.passwordFile = nil
        },
        EnvironmentOverride(name: "COURIER_BROKER_PASSWORD_FILE") { value, config in
            config.broker.passwordFile = value
            config.broker.password = nil
        },
        EnvironmentOverride(name: "COURIER_BROKER_TLS_CA_FILE") { value, config in
            config.broker.tls = config.broker.tls ?? .init()
            config.broker.tls?.caFile = value
        },
        EnvironmentOverride(name: "COURIER_BROKER_TLS_CERT_FILE") { value, config in
            config.broker.tls = config.broker.tls ?? .init()
            config.broker.tls?.certFile = value
        },
        EnvironmentOverride(name: "COURIER_BROKER_TLS_KEY_FILE") { value, config in
            config.broker.tls = config.broker.tls ?? .init()
            config.broker.tls?.keyFile = value
        },
        EnvironmentOverride(name: "COURIER_BRIDGE_ID") { value, config throws(ConfigRules.Problem) in
            try checked(ConfigRules.id(value))
            config.bridgeID = value
        },
        EnvironmentOverride(name: "COURIER_STORE_PATH") { value, config in
            config.store.use(path: value)
        },
        EnvironmentOverride(name: "COURIER_STORE_URL") { value, config throws(ConfigRules.Problem) in
            do throws(StoreURLError) {
                try config.store.use(url: value)
            } catch {
                throw ConfigRules.Problem(message: error.message)
            }
        },
        EnvironmentOverride(name: "COURIER_STORE_RETENTION") { value, config throws(ConfigRules.Problem) in
            config.store.retention = try ConfigRules.duration(value, atLeast: .zero).get()
        },
        EnvironmentOverride(name: "COURIER_STORE_DEAD_LETTER_RETENTION") { value, config throws(ConfigRules.Problem) in
            config.store.deadLetterRetention = try ConfigRules.duration(value, atLeast: .zero).get()
        },
        EnvironmentOverride(name: "COURIER_HTTP_ADDRESS") { value, config throws(ConfigRules.Problem) in
            try checked(ConfigRules.address(value))
            config.httpAddress = value
        },
        EnvironmentOverride(name: "COURIER_HTTP_TOKENS_FILE") { value, config in
            config.httpTokensFile = value
        },
        EnvironmentOverride(name: "COURIER_LOG_LEVEL") { value, config throws(ConfigRules.Problem) in
            try checked(ConfigRules.logLevel(value))
            config.logLevel = value
        },
        EnvironmentOverride(name: "COURIER_MAX_PENDING_PER_DEVICE") { value, config throws(ConfigRules.Problem) in
            config.limits.maxPendingPerDevice = try ConfigRules.int(value, in: 1...Int.max).get()
        },
        EnvironmentOverride(name: "COURIER_MAX_PENDING_TOTAL") { value, config throws(ConfigRules.Problem) in
            config.limits.maxPendingTotal = try ConfigRules.int(value, in: 1...Int.max).get()
        },
        EnvironmentOverride(name: "COURIER_MAX_CORRELATION_DATA_BYTES") { value, config throws(ConfigRules.Problem) in
            config.limits.maxCorrelationDataBytes = try ConfigRules.int(value, in: 1...65535).get()
        },
        EnvironmentOverride(name: "COURIER_REPLY_QOS") { value, config throws(ConfigRules.Problem) in
            config.replyQoS = try ConfigRules.int(value, in: 0...1).get()
        },
        EnvironmentOverride(name: "COURIER_WORKER_CONCURRENCY") { value, config throws(ConfigRules.Problem) in
            config.workers.concurrency = try ConfigRules.int(value, in: 1...65535).get()
        },
        EnvironmentOverride(name: "COURIER_WORKER_OPERATIONS") { value, config throws(ConfigRules.Problem) in
            var names: [String] = []
            for part in value.split(separator: ",") {
                let name = part.trimmingCharacters(in: .whitespaces)
                if name.isEmpty { continue }
                try checked(ConfigRules.id(name))
                try checked(
                    ConfigLoader.workerOperationProblem(name, names: names, operations: config.operations)
                )
                names.append(name)
            }
            config.workers.operations = names
        },
        EnvironmentOverride(name: "COURIER_WORKER_ID") { value, config throws(ConfigRules.Problem) in
            try checked(ConfigRules.id(value))
            config.workers.id = value
        },
    ]

    private static func checked(_ problem: String?) throws(ConfigRules.Problem) {
        if let problem { throw ConfigRules.Problem(message: problem) }
    }
}

extension ConfigLoader {
    /// Applies the `COURIER_*` variables (listed on ``load(path:environment:)``) over a
    /// configuration. Empty values count as unset; a bad value throws a ``ConfigError`` whose key
    /// is the variable's name.
    package static func applyEnvironment(
        _ environment: [String: String],
        to configuration: inout CourierConfiguration
    ) throws {
        if let password = environment["COURIER_BROKER_PASSWORD"], !password.isEmpty,
            let file = environment["COURIER_BROKER_PASSWORD_FILE"], !file.isEmpty
        {
            throw ConfigError(
                key: "COURIER_BROKER_PASSWORD_FILE",
                message: "set COURIER_BROKER_PASSWORD or COURIER_BROKER_PASSWORD_FILE, not both"
            )
        }
        if let path = environment["COURIER_STORE_PATH"], !path.isEmpty,
            let url = environment["COURIER_STORE_URL"], !url.isEmpty
        {
            throw ConfigError(key: "COURIER_STORE_URL", message: "set COURIER_STORE_URL or COURIER_STORE_PATH, not both")
        }
        for override in EnvironmentOverride.all {
            guard let value = environment[override.name], !value.isEmpty else { continue }
            do {
                try override.apply(value, &configuration)
            } catch {
                throw ConfigError(key: override.name, message: error.message)
            }
        }
    }
}
