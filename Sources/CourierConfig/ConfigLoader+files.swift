import CourierCore
import Foundation
import Yams

extension ConfigLoader {
    /// Checks that the files a configuration names can be read: `broker.passwordFile` and
    /// `broker.tls.caFile`, `certFile` and `keyFile`.
    ///
    /// A problem names the key, with the file and line when the value is the one written in the
    /// YAML file at `path`, or the `COURIER_*` variable when the value came from there:
    /// `courier.yaml:8: broker.tls.caFile: cannot read "Config/tls/ca.crt": no such file`.
    public static func checkFiles(
        _ configuration: CourierConfiguration,
        path: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        let tls = configuration.broker.tls
        let files: [(key: [String], value: String?, variable: String?)] = [
            (["broker", "passwordFile"], configuration.broker.passwordFile, "COURIER_BROKER_PASSWORD_FILE"),
            (["broker", "tls", "caFile"], tls?.caFile, "COURIER_BROKER_TLS_CA_FILE"),
            (["broker", "tls", "certFile"], tls?.certFile, "COURIER_BROKER_TLS_CERT_FILE"),
            (["broker", "tls", "keyFile"], tls?.keyFile, "COURIER_BROKER_TLS_KEY_FILE"),
        ]
        for file in files {
            guard let value = file.value, let problem = unreadable(value) else { continue }
            let message = "cannot read \(quoted(value)): \(problem)"
            if let variable = file.variable, environment[variable] == value {
                throw ConfigError(key: variable, message: message)
            }
            let key = file.key.joined(separator: ".")
            guard let path, let line = writtenLine(of: file.key, value: value, inFile: path) else {
                throw ConfigError(key: key, message: message)
            }
            throw ConfigError(file: path, line: line, key: key, message: message)
        }
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
