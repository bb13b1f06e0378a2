import CourierCore
import Foundation
import Yams

extension ConfigLoader {
    /// Checks what parsing alone cannot: that the files a configuration names can be read
    /// (`broker.passwordFile`, `broker.tls.caFile`, `certFile` and `keyFile`, `http.tokens`),
    /// that the token file is well formed, and that an HTTP API without tokens listens on a
    /// loopback address only (``LoopbackRule``).
    ///
    /// A problem names the key, with the file and line when the value is the one written in the
    /// YAML file at `path`, or the `COURIER_*` variable when the value came from there:
    /// `courier.yaml:8: broker.tls.caFile: cannot read "Config/tls/ca.crt": no such file`. A
    /// problem inside the token file names that file and its line. With `servesHTTP` false (a
    /// worker, which has no HTTP API) the `http` keys are not checked.
    package static func checkFiles(
        _ configuration: CourierConfiguration,
        path: String?,
        servesHTTP: Bool = true,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        let tls = configuration.broker.tls
        let files: [(key: [String], value: String?, variable: String?)] = [
            (["broker", "passwordFile"], configuration.broker.passwordFile, "COURIER_BROKER_PASSWORD_FILE"),
            (["broker", "tls", "caFile"], tls?.caFile, "COURIER_BROKER_TLS_CA_FILE"),
            (["broker", "tls", "certFile"], tls?.certFile, "COURIER_BROKER_TLS_CERT_FILE"),
            (["broker", "tls", "keyFile"], tls?.keyFile, "COURIER_BROKER_TLS_KEY_FILE"),
        ] + (servesHTTP ? [(["http", "tokens"], configuration.httpTokensFile, "COURIER_HTTP_TOKENS_FILE")] : [])
        for file in files {
            guard let value = file.value, let problem = unreadable(value) else { continue }
            let message = "cannot read \(quoted(value)): \(problem)"
            throw located(message, key: file.key, value: value, variable: file.variable, path: path, environment: environment)
        }
        guard servesHTTP else { return }
        _ = try readTokens(configuration)
        if configuration.httpTokensFile == nil, let problem = LoopbackRule.problem(address: configuration.httpAddress) {
            throw located(
                problem, key: ["http", "address"], value: configuration.httpAddress, variable: "COURIER_HTTP_ADDRESS",
                path: path, environment: environment
            )
        }
    }

    /// The HTTP API's bearer tokens, read from `http.tokens`; nil when it names no file.
    package static func readTokens(_ configuration: CourierConfiguration) throws -> AccessTokens? {
        guard let file = configuration.httpTokensFile else { return nil }
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigError(key: "http.tokens", message: "cannot read \(quoted(file)): \(unreadable(file) ?? error.localizedDescription)")
        }
        return try AccessTokens.parse(text, file: file)
    }

    /// A problem with a value the configuration holds, located where that value came from: the
    /// `COURIER_*` variable, else the line of `key` in the YAML file at `path`, else just the key
    /// (a command-line flag).
    private static func located(
        _ message: String,
        key: [String],
        value: String,
        variable: String?,
        path: String?,
        environment: [String: String]
    ) -> ConfigError {
        if let variable, environment[variable] == value {
            return ConfigError(key: variable, message: message)
        }
        let name = key.joined(separator: ".")
        guard let path, let line = writtenLine(of: key, value: value, inFile: path) else {
            return ConfigError(key: name, message: message)
        }
        return ConfigError(file: path, line: line, key: name, message: message)
    }

    /// The line of `key` in the YAML file at `path`, when it holds `value` there.
    private static func writtenLine(of key: [String], value: String, inFile path: String) -> Int? {
        guard let yaml = try? String(contentsOfFile: path, encoding: .utf8), var node = try? Yams.compose(yaml: yaml) else {
            return nil
        }
        for name in key {
            guard case .mapping(let mapping) = node, let entry = mapping.first(where: { $0.key.string == name }) else {
                return nil
            }
            node = entry.value
        }
        guard node.string == value else { return nil }
        return node.mark?.line
    }
}
