/// Everything a Courier daemon is configured with. `Config/courier.yaml` is its text form; flags
/// and `COURIER_*` environment variables override it.
public struct CourierConfiguration: Sendable, Equatable {
    package struct TLS: Sendable, Equatable {
        package var caFile: String?
        package var certFile: String?
        package var keyFile: String?

        package init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
        }
    }

    package struct Broker: Sendable, Equatable {
        package var url: String = "mqtt://127.0.0.1:1883"
        package var username: String?
        package var password: String?
        package var passwordFile: String?
        package var tls: TLS?

        package init() {}
    }

    package struct Store: Sendable, Equatable {
        /// The SQLite file, used when ``postgres`` is nil.
        package var path: String = ".courier/courier.sqlite"
        /// The PostgreSQL database that holds the requests instead; nil for the SQLite file.
        package var postgres: PostgresURL?
        /// How long finished requests answer duplicates and status queries.
        package var retention: Duration = .seconds(600)
        /// How long dead letters (`failed`, `rejected`) are kept for listing and replay.
        package var deadLetterRetention: Duration = .seconds(7 * 86_400)

        package init() {}

        /// Where the store lives, for logs and banners: the SQLite file, or the PostgreSQL URL
        /// without its password.
        package var location: String { postgres?.description ?? path }

        /// Uses the SQLite file at `path`.
        package mutating func use(path: String) {
            self.path = path
            postgres = nil
        }

        /// Uses what a `store.url` names: `postgres://...` (or `postgresql://...`), or
        /// `sqlite:PATH` for the SQLite file at PATH.
        package mutating func use(url text: String) throws(StoreURLError) {
            if text.hasPrefix("sqlite:") {
                let path = String(text.dropFirst("sqlite:".count))
                guard !path.isEmpty else {
                    throw StoreURLError(message: "\"\(text)\" names no file (write sqlite:PATH)")
                }
                use(path: path)
            } else if PostgresURL.schemes.contains(where: { text.lowercased().hasPrefix($0) }) {
                postgres = try PostgresURL(parsing: text)
            } else {
                let shown = PostgresURL.redacted(text)
                throw StoreURLError(message: "\"\(shown)\" must start with postgres://, postgresql:// or sqlite:")
            }
        }
    }

    package struct Limits: Sendable, Equatable {
        package var maxPendingPerDevice: Int = 32
        package var maxPendingTotal: Int = 100_000
        package var maxCorrelationDataBytes: Int = 64

        package init() {}
    }

    public struct Workers: Sendable, Equatable {
        package var concurrency: Int = 8
        /// Operations this worker process serves; empty means every built-in one it has.
        package var operations: [String] = []
        /// Set to give a worker a stable id; by default each process makes a unique one.
        package var id: String?
        /// How the bridge hands attempts to worker daemons, and what workers subscribe to.
        package var dispatch: Dispatch = .shared

        /// `workers.dispatch`.
        public enum Dispatch: String, Sendable, Equatable, CaseIterable {
            /// `$share/courier-workers/courier/work/{operation}`, balanced by the broker.
            case shared
            /// Each attempt to one worker's own topic, the one with the most free capacity.
            case direct
        }

        package init() {}
    }

    package var broker = Broker()
    package var bridgeID: String = "bridge-1"
    /// How long a bridge's hold on its requests outlives its last renewal in a shared store;
    /// after that another bridge takes them over (`bridge.leaseTimeout`).
    package var leaseTimeout: Duration = .seconds(10)
    /// The least time between two progress replies to a device for one request; the latest
    /// progress wins (`bridge.progressInterval`).
    package var progressInterval: Duration = .seconds(1)
    package var store = Store()
    package var httpAddress: String = "127.0.0.1:8080"
    /// The file of the HTTP API's bearer tokens (``AccessTokens``); nil leaves the API open,
    /// which is allowed only on a loopback address (``LoopbackRule``).
    package var httpTokensFile: String?
    package var limits = Limits()
    package var operations: [OperationConfig] = CourierConfiguration.defaultOperations
    /// Commands a backend may send to devices (`commands:`); none by default.
    package var commands: [OperationConfig] = []
    package var workers = Workers()
    /// The topic layout (`topics:`).
    package var topics = Topics()
    /// QoS of replies to devices.
    package var replyQoS: Int = 1
    package var logLevel: String = "info"

    package init() {}

    /// The command with this name, if configured.
    package func command(named name: String) -> OperationConfig? {
        commands.first { $0.name == name }
    }

    /// The settings of a record's operation, or of its command.
    package func settings(for kind: RequestKind, _ name: String) -> OperationConfig? {
        kind == .command ? command(named: name) : operation(named: name)
    }

    /// The operation with this name, if configured.
    package func operation(named name: String) -> OperationConfig? {
        operations.first { $0.name == name }
    }

    /// The built-in operations, served when a file configures none.
    package static let defaultOperations: [OperationConfig] = [
        OperationConfig(name: "echo", content: .any, timeout: .seconds(10), attemptTimeout: .seconds(3)),
        OperationConfig(name: "telemetry.summary", content: .json, timeout: .seconds(5)),
        OperationConfig(name: "telemetry.anomalies", content: .json, timeout: .seconds(5)),
    ]
}
