import ArgumentParser
import CourierTesting
import Foundation
import Logging
import MQTT

/// What answers the devices' requests in one part of `courier-bench bridge`.
enum SystemUnderTest: CaseIterable, Sendable {
    /// The C echo responder (``EchoResponder``): each request back to its Response Topic with
    /// its Correlation Data and status 200, no state.
    case baseline
    /// `courier serve`: bridge and workers in one process.
    case serve
    /// `courier bridge` with one `courier worker`, work handed over through the broker.
    case bridgeAndWorker

    var name: String {
        switch self {
        case .baseline: "C echo responder"
        case .serve: "courier serve"
        case .bridgeAndWorker: "courier bridge + worker"
        }
    }

    /// The share of the baseline's requests/s this system should reach (issue 9: four broker
    /// hops against two make 0.5 the limit of bridge + worker).
    var floor: Double? {
        switch self {
        case .baseline: nil
        case .serve: 0.8
        case .bridgeAndWorker: 0.4
        }
    }
}

extension CourierDaemon {
    /// ``binary``, or a message saying how to get it.
    static func requireBinary() throws -> String {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError(
                "no courier binary at \(binary): `swift build -c release` builds it beside courier-bench; or set COURIER_BINARY"
            )
        }
        return binary
    }
}

/// What a Courier daemon wrote to its log during a run, and how it exited.
struct DaemonLog: Sendable {
    let name: String
    /// The directory that holds its log, configuration and store.
    let directory: String
    let exitStatus: Int32
    let warnings: Int
    let errors: Int
    /// A few distinct warning and error lines, without their timestamps.
    let samples: [String]

    init(name: String, directory: String, exitStatus: Int32, text: String) {
        self.name = name
        self.directory = directory
        self.exitStatus = exitStatus
        var warnings = 0, errors = 0
        var samples: [String] = []
        for line in text.split(separator: "\n") {
            // Courier logs logfmt: `time=… level=LEVEL logger=… msg=…`.
            let words = line.split(separator: " ", maxSplits: 2)
            guard words.count == 3, words[1].hasPrefix("level=") else { continue }
            let level = words[1].dropFirst("level=".count)
            switch level {
            case "warning": warnings += 1
            case "error", "critical": errors += 1
            default: continue
            }
            let sample = String(level) + " " + String(words[2].prefix(200))
            if samples.count < 3, !samples.contains(sample) { samples.append(sample) }
        }
        self.warnings = warnings
        self.errors = errors
        self.samples = samples
    }

    var summary: String {
        "\(name): exit \(exitStatus), \(errors) errors, \(warnings) warnings in its log"
    }
}

/// Starts and stops what answers requests.
struct SystemLauncher: Sendable {
    let broker: MosquittoBroker
    /// Where each system's configuration, store and logs go.
    let directory: URL
    let maxPendingPerDevice: Int
    let signals: StopOnSignal

    /// Runs `body` while `system` serves requests on the broker, with the processes it started
    /// (name, pid); then stops them (SIGTERM, then wait), whether `body` threw or not. Returns
    /// `body`'s result and the daemons' logs.
    func serving<T>(_ system: SystemUnderTest, _ body: ([(name: String, pid: Int32)]) async throws -> T) async throws -> (T, [DaemonLog]) {
        switch system {
        case .baseline:
            let result = try await EchoResponder.serving(broker: broker, directory: directory, signals: signals) { echo in
                try await body([("echo responder", echo.pid)])
            }
            return (result, [])
        case .serve:
            let config = try configuration(in: "serve", bridgeID: "bench-serve")
            return try await withDaemon(name: "courier serve", ["serve", "--config", config.path], readyLine: "bridge started", in: config.directory) { serve in
                try await body([("courier serve", serve.pid)])
            } cleanUp: {
                await clearSession(clientID: "courier-bridge-bench-serve")
            }
        case .bridgeAndWorker:
            let config = try configuration(in: "bridge", bridgeID: "bench-bridge")
            let (result, bridgeLogs) = try await withDaemon(name: "courier bridge", ["bridge", "--config", config.path], readyLine: "bridge started", in: config.directory) { bridge in
                try await withDaemon(name: "courier worker", ["worker", "--config", config.path], readyLine: "worker started", in: config.directory) { worker in
                    try await body([("courier bridge", bridge.pid), ("courier worker", worker.pid)])
                } cleanUp: {}
            } cleanUp: {
                await clearSession(clientID: "courier-bridge-bench-bridge")
            }
            return (result.0, result.1 + bridgeLogs)
        }
    }

    private func configuration(in name: String, bridgeID: String) throws -> (path: String, directory: URL) {
        let directory = directory.appendingPathComponent(name)
        let path = try writeCourierConfig(
            in: directory,
            broker: broker,
            bridgeID: bridgeID,
            limits: "  maxPendingPerDevice: \(maxPendingPerDevice)"
        )
        return (path, directory)
    }

    /// Starts `courier arguments...`, waits for `readyLine` in its log, runs `body`, then stops
    /// the daemon and runs `cleanUp`, whether `body` threw or not.
    private func withDaemon<T>(
        name: String,
        _ arguments: [String],
        readyLine: String,
        in directory: URL,
        _ body: (CourierDaemon) async throws -> T,
        cleanUp: () async -> Void
    ) async throws -> (T, [DaemonLog]) {
        BenchReport.progress("starting \(CourierDaemon.binary) \(arguments.joined(separator: " "))")
        let daemon = try await CourierDaemon.start(arguments, readyLine: readyLine, directory: directory)
        func stop() async -> DaemonLog {
            BenchReport.progress("stopping \(name) (SIGTERM, pid \(daemon.pid))")
            let status = await daemon.stop()
            await cleanUp()
            return DaemonLog(name: name, directory: directory.path, exitStatus: status, text: daemon.log)
        }
        do {
            let result = try await signals.whileRunning(stop: { await daemon.stop() }) {
                try await body(daemon)
            }
            return (result, [await stop()])
        } catch {
            let log = await stop()
            BenchReport.progress("\(log.summary); log in \(log.directory)")
            throw error
        }
    }

    /// Connects with a stopped bridge's client id and a clean start, so that the broker drops
    /// the durable session it kept, with any shared subscription left in it.
    private func clearSession(clientID: String) async {
        guard var configuration = try? MQTTConfiguration(url: broker.url, clientID: clientID) else { return }
        configuration.cleanStart = true
        configuration.sessionExpiry = 0
        var logger = Logger(label: "courier-bench.session")
        logger.logLevel = .warning
        let client = MQTTClient(configuration: configuration, logger: logger)
        _ = try? await withTimeout(.seconds(5), "clearing session \(clientID)") { try await client.connect() }
        await client.shutdown()
    }
}
