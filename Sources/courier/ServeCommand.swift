import ArgumentParser
import CourierBridge
import CourierConfig
import CourierCore
import CourierHTTP
import CourierWorkers
import Logging
import ServiceLifecycle

/// `courier serve`: bridge and workers in one process, attempts handed over in memory.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the bridge with its workers in one process (the default for one machine)."
    )

    @OptionGroup var options: DaemonOptions

    func run() async throws {
        let configuration = try options.configuration()
        let logger = Logs.bootstrap(level: configuration.logLevel)
        let runtime = try BridgeRuntime(configuration: configuration, workers: .inMemory(WorkerPool.builtin(configuration, logger: logger)), logger: logger)
        try await runtime.run(extraServices: [])
    }
}

/// A bridge with everything around it (store, HTTP API, metrics), as `serve`, `bridge` and
/// `dev` run it.
struct BridgeRuntime {
    let bridge: Bridge
    let http: any Service
    let logger: Logger

    init(configuration: CourierConfiguration, workers: Bridge.Workers, logger: Logger) throws {
        // Metrics first: the bridge creates its metric objects when it is made.
        let registry = PrometheusMetrics.bootstrap()
        let store = try configuration.store.open(bridgeID: configuration.bridgeID, logger: logger)
        bridge = try Bridge(
            configuration: configuration,
            mqtt: try configuration.mqtt(clientID: "courier-bridge"),
            store: store,
            workers: workers,
            logger: logger
        )
        let address = try HTTPAddress(configuration.httpAddress)
        http = try makeHTTPApplication(
            bridge: bridge,
            registry: registry,
            address: (address.host, address.port),
            tokens: try ConfigLoader.readTokens(configuration),
            logger: logger
        )
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    func run(extraServices: [any Service]) async throws {
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: bridge), .init(service: http)] + extraServices.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [.sigquit],
            logger: logger
        )
        // The bridge drains for at most 10 s; past 30 s everything is cancelled.
        configuration.maximumGracefulShutdownDuration = .seconds(30)
        try await ServiceGroup(configuration: configuration).run()
    }
}

extension WorkerPool {
    /// A pool of the built-in handlers for the operations the configuration gives workers
    /// (every built-in one when it names none).
    static func builtin(_ configuration: CourierConfiguration, logger: Logger) -> WorkerPool {
        let wanted = Set(configuration.workers.operations)
        let handlers = BuiltinHandlers.all.filter { wanted.isEmpty || wanted.contains($0.operation) }
        return WorkerPool(handlers: handlers, concurrency: configuration.workers.concurrency, logger: logger)
    }
}

/// `HOST:PORT` of the HTTP API.
struct HTTPAddress {
    var host: String
    var port: Int

    init(_ text: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("HTTP address \"\(text)\" is not HOST:PORT")
        }
        host = String(text[..<colon])
        self.port = port
    }
}
