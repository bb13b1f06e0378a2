import CourierCore
import Foundation
import ServiceLifecycle

extension DevCommand {
    /// `--bridges N`, N > 1: the private broker, then ``DevCluster``'s bridges and workers as
    /// child processes on `store`, and the simulated devices in this process, whose progress
    /// every 2 s is the status (each bridge's own figures are on its `/metrics`). SIGINT or
    /// SIGTERM stops the devices, then the children, then the broker.
    func runCluster(options: DaemonOptions, configuration: CourierConfiguration, store: PostgresURL, stateDirectory: String) async throws {
        var configuration = configuration
        let broker = try await DevBroker.start(baseConfig: mosquittoConfig, port: port, stateDirectory: stateDirectory)
        configuration.broker.url = broker.url
        let cluster: DevCluster
        do {
            cluster = try await DevCluster.start(
                bridges: bridges,
                workers: workers ?? 2,
                arguments: childArguments(options: options, configuration: configuration),
                store: store,
                http: try HTTPAddress(configuration.httpAddress),
                stateDirectory: stateDirectory
            )
        } catch {
            await broker.stop()
            throw error
        }
        let banner =
            ["courier dev: broker \(broker.url) (pid \(broker.process.pid), log \(broker.logFile)), store \(configuration.store.location)"]
            + cluster.banner
            + ["courier dev: \(cluster.bridges.count) bridges, \(cluster.workers.count) workers; Ctrl-C to stop"]
        FileHandle.standardOutput.write(Data((banner.joined(separator: "\n") + "\n").utf8))
        do {
            let services: [any Service] = [DevChildrenWatch(children: cluster.children)]
                + (try devicesServices(configuration: configuration, progressEvery: .seconds(2)))
            var group = ServiceGroupConfiguration(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [.sigquit],
                logger: Logs.logger
            )
            group.maximumGracefulShutdownDuration = .seconds(30)
            try await ServiceGroup(configuration: group).run()
        } catch {
            await cluster.stop()
            await broker.stop()
            throw error
        }
        await cluster.stop()
        await broker.stop()
        print("courier dev: stopped")
    }

    /// The flags every child takes: dev's configuration file and broker account, its private
    /// broker, and the log level dev resolved (`warning` unless asked otherwise).
    private func childArguments(options: DaemonOptions, configuration: CourierConfiguration) -> [String] {
        var arguments = ["--broker", configuration.broker.url, "--log-level", configuration.logLevel]
        if let config = options.config { arguments += ["--config", config] }
        if let username = options.username { arguments += ["--username", username] }
        if let password = options.password { arguments += ["--password", password] }
        if let passwordFile = options.passwordFile { arguments += ["--password-file", passwordFile] }
        return arguments
    }
}
