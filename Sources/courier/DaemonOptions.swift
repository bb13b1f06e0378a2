import ArgumentParser
import CourierConfig
import CourierCore
import Foundation
import Logging
import MQTT

/// The flags every daemon takes; they override the config file, which overrides nothing but
/// the defaults (`COURIER_*` environment variables sit between the two).
struct DaemonOptions: ParsableArguments {
    @Option(name: .long, help: "YAML configuration file.")
    var config: String?

    @Option(name: .long, help: "Broker URL, mqtt://HOST:PORT or mqtts://HOST:PORT.")
    var broker: String?

    @Option(name: .long, help: "Request store: a SQLite file, or postgres://USER:PASSWORD@HOST:PORT/DB (a password here shows in ps: prefer COURIER_STORE_URL).")
    var store: String?

    @Option(name: .long, help: "HTTP API address, HOST:PORT.")
    var http: String?

    @Option(name: .customLong("bridge-id"), help: "Bridge id; names its reply topic.")
    var bridgeID: String?

    @Option(name: .long, help: "Broker username.")
    var username: String?

    @Option(name: .long, help: "Broker password (prefer --password-file).")
    var password: String?

    @Option(name: .customLong("password-file"), help: "File whose first line is the broker password.")
    var passwordFile: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    func validate() throws {
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        if let broker, !(broker.hasPrefix("mqtt://") || broker.hasPrefix("mqtts://")) {
            throw ValidationError("--broker must be mqtt://HOST:PORT or mqtts://HOST:PORT")
        }
        if password != nil, passwordFile != nil {
            throw ValidationError("give --password or --password-file, not both")
        }
    }

    /// The configuration: `defaults`, then the file, then `COURIER_*`, then these flags; the
    /// files it names (password file, TLS certificates and key, and for a daemon that serves
    /// the HTTP API its token file) must be readable.
    func configuration(defaults: CourierConfiguration = CourierConfiguration(), servesHTTP: Bool = true) throws -> CourierConfiguration {
        var configuration = try ConfigLoader.load(path: config, defaults: defaults)
        if let broker { configuration.broker.url = broker }
        if let store { try configuration.store.use(flag: store) }
        if let http { configuration.httpAddress = http }
        if let bridgeID { configuration.bridgeID = bridgeID }
        if let username { configuration.broker.username = username }
        if let password {
            configuration.broker.password = password
            configuration.broker.passwordFile = nil
        }
        if let passwordFile {
            configuration.broker.passwordFile = passwordFile
            configuration.broker.password = nil
        }
        if let logLevel { configuration.logLevel = logLevel }
        try ConfigLoader.checkFiles(configuration, path: config, servesHTTP: servesHTTP)
        return configuration
    }
}

extension CourierConfiguration.Store {
    /// Uses what `--store` names: a URL (`postgres://...`, `sqlite:PATH`) or a SQLite file.
    mutating func use(flag text: String) throws {
        guard text.contains("://") || text.hasPrefix("sqlite:") else { return use(path: text) }
        do throws(StoreURLError) {
            try use(url: text)
        } catch {
            throw ValidationError("--store \(error.message)")
        }
    }
}

extension CourierConfiguration {
    /// The MQTT connection this configuration describes, under `clientID`.
    func mqtt(clientID: String) throws -> MQTTConfiguration {
        var mqtt = try MQTTConfiguration(url: broker.url, clientID: clientID)
        mqtt.username = broker.username
        mqtt.password = try ConfigLoader.readPassword(self)
        if let tls = broker.tls, let ca = tls.caFile {
            mqtt.tls = .init(caFile: ca, certFile: tls.certFile, keyFile: tls.keyFile)
        }
        return mqtt
    }
}

/// Process-wide logging: logfmt lines on stderr at the configured level.
enum Logs {
    static func bootstrap(level: String) -> Logger {
        let level = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in LogfmtLogHandler(label: label, level: level) }
        let logger = Logger(label: "courier")
        return logger
    }

    /// The process's logger, after ``bootstrap(level:)``.
    static var logger: Logger { Logger(label: "courier") }
}
