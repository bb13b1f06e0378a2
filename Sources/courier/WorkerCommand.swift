import ArgumentParser
import CourierCore
import CourierWorkers
import ServiceLifecycle

/// `courier worker`: hosts handlers and takes work through the shared subscription and its own
/// direct topics (only the latter with `workers.dispatch: direct`).
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker daemon: built-in handlers behind a shared subscription; scale out by running more."
    )

    @OptionGroup var options: DaemonOptions

    @Option(name: .customLong("worker-id"), help: "Presence id; unique per process by default.")
    var workerID: String?

    func validate() throws {
        if let workerID, !Topics.isValidID(workerID) {
            throw ValidationError("--worker-id must match [A-Za-z0-9_.-]{1,64}")
        }
        // The worker has no store, no HTTP API and serves every bridge: these belong to `bridge`.
        let bridgeOnly = [("--store", options.store), ("--http", options.http), ("--bridge-id", options.bridgeID)]
        if let (flag, _) = bridgeOnly.first(where: { $0.1 != nil }) {
            throw ValidationError("\(flag) is a bridge option: courier worker has no store, no HTTP API and serves every bridge")
        }
    }

    func run() async throws {
        var configuration = try options.configuration(servesHTTP: false)
        if let workerID { configuration.workers.id = workerID }
        let logger = Logs.bootstrap(level: configuration.logLevel)
        let service = WorkerService(
            pool: WorkerPool.builtin(configuration, logger: logger),
            mqtt: try configuration.mqtt(clientID: "courier-worker"),
            workerID: configuration.workers.id,
            topics: configuration.topics,
            dispatch: configuration.workers.dispatch,
            logger: logger
        )
        var group = ServiceGroupConfiguration(services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // In-flight work may finish and clear presence; past 30 s the worker is cancelled.
        group.maximumGracefulShutdownDuration = .seconds(30)
        try await ServiceGroup(configuration: group).run()
    }
}
