import CourierCore
import Foundation

/// Reads Courier's configuration: defaults, then the YAML file, then `COURIER_*` environment
/// variables, each overriding the one before. Command-line flags, applied by the CLI, win over all.
///
/// Every problem is a ``ConfigError`` that names the file, line and key (or the variable) and
/// says what to write instead, e.g.
/// `Config/courier.yaml:12: operations[1].timeout: "5x" is not a duration (write 500ms, 10s, 2m or 1h)`.
///
/// Relative paths in the file (`store.path`, `broker.passwordFile`, `broker.tls.*`) are relative to
/// the working directory, as `courier` is run from the repository root.
package enum ConfigLoader {
    /// Loads the configuration a daemon runs with.
    ///
    /// - Parameters:
    ///   - path: the YAML file; nil means the built-in defaults plus the environment.
    ///   - environment: the variables to apply over the file. They win over it; an empty value
    ///     counts as unset. A value that is wrong names the variable. The variables are:
    ///     - `COURIER_BROKER_URL`: `broker.url` (`mqtt://HOST:PORT` or `mqtts://HOST:PORT`)
    ///     - `COURIER_BROKER_USERNAME`: `broker.username`
    ///     - `COURIER_BROKER_PASSWORD`: `broker.password` (replaces a `passwordFile` from the file)
    ///     - `COURIER_BROKER_PASSWORD_FILE`: `broker.passwordFile` (replaces a `password` from the file)
    ///     - `COURIER_BROKER_TLS_CA_FILE`, `COURIER_BROKER_TLS_CERT_FILE`,
    ///       `COURIER_BROKER_TLS_KEY_FILE`: `broker.tls.caFile`, `certFile`, `keyFile`
    ///     - `COURIER_BRIDGE_ID`: `bridge.id`
    ///     - `COURIER_STORE_PATH`: `store.path` (the SQLite file; replaces a `url` from the file)
    ///     - `COURIER_STORE_URL`: `store.url` (`postgres://USER:PASSWORD@HOST:PORT/DATABASE` or
    ///       `sqlite:PATH`; replaces a `path` from the file)
    ///     - `COURIER_STORE_RETENTION`: `store.retention` (a duration: `10m`)
    ///     - `COURIER_STORE_DEAD_LETTER_RETENTION`: `store.deadLetterRetention` (`7d`)
    ///     - `COURIER_HTTP_ADDRESS`: `http.address` (`HOST:PORT`)
    ///     - `COURIER_HTTP_TOKENS_FILE`: `http.tokens`, the file of the HTTP API's bearer tokens
    ///     - `COURIER_LOG_LEVEL`: `log.level` (`trace` ... `critical`)
    ///     - `COURIER_MAX_PENDING_PER_DEVICE`: `limits.maxPendingPerDevice`
    ///     - `COURIER_MAX_PENDING_TOTAL`: `limits.maxPendingTotal`
    ///     - `COURIER_MAX_CORRELATION_DATA_BYTES`: `limits.maxCorrelationDataBytes`
    ///     - `COURIER_REPLY_QOS`: `replyQoS` (0 or 1)
    ///     - `COURIER_WORKER_CONCURRENCY`: `workers.concurrency`
    ///     - `COURIER_WORKER_OPERATIONS`: `workers.operations`, a comma-separated list
    ///     - `COURIER_WORKER_ID`: `workers.id`
    ///   - defaults: what neither the file nor the environment sets (a command's own defaults,
    ///     such as `courier dev`'s quieter log level).
    package static func load(
        path: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        defaults: CourierConfiguration = CourierConfiguration()
    ) throws -> CourierConfiguration {
        var configuration = defaults
        if let path {
            configuration = try parse(yaml: readFile(path), file: path, defaults: defaults)
        }
        try applyEnvironment(environment, to: &configuration)
        return configuration
    }

    /// The broker password: `broker.password`, or else the first line of `broker.passwordFile`
    /// with surrounding white space trimmed; nil when neither is set.
    package static func readPassword(_ configuration: CourierConfiguration) throws -> String? {
        if let password = configuration.broker.password { return password }
        guard let file = configuration.broker.passwordFile else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            let message = "cannot read \(quoted(file)): \(reason(error, path: file))"
            throw ConfigError(key: "broker.passwordFile", message: message)
        }
        let firstLine = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let password = firstLine.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !password.isEmpty else {
            throw ConfigError(key: "broker.passwordFile", message: "the first line of \(quoted(file)) is empty")
        }
        return password
    }

    private static func readFile(_ path: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let message = "cannot read the configuration: \(reason(error, path: path))"
            throw ConfigError(file: path, key: "", message: message)
        }
    }

    private static func reason(_ error: any Error, path: String) -> String {
        unreadable(path) ?? error.localizedDescription
    }

    /// Why the file at `path` cannot be read (`no such file`, `it is a directory`, `permission
    /// denied`); nil when it can.
    static func unreadable(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) { return "no such file" }
        if isDirectory.boolValue { return "it is a directory" }
        if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
        return nil
    }
}
