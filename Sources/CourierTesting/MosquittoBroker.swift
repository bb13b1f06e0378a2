import Foundation

/// A real `mosquitto` on a free loopback port, with a temporary config, for tests and
/// benchmarks. Stop it with ``stop()``; it can be killed and restarted on the same port.
package final class MosquittoBroker: Sendable {
    package let port: Int
    package let directory: URL
    private let configFile: URL
    private let process: ProcessBox

    /// `127.0.0.1` and the port, as `mqtt://127.0.0.1:PORT`.
    package var url: String { "mqtt://127.0.0.1:\(port)" }

    /// Starts a broker and waits until it accepts connections.
    /// - Parameters:
    ///   - extraConfig: lines appended to the generated config (listeners, ACLs, TLS...). When
    ///     it defines its own `listener` lines, pass `listener: false`.
    ///   - persistence: keep sessions and queued messages across ``restart()``.
    ///   - port: the port to listen on; a free one by default.
    package static func start(
        extraConfig: String = "",
        listener: Bool = true,
        persistence: Bool = false,
        port fixedPort: Int? = nil
    ) async throws -> MosquittoBroker {
        func start(on port: Int) async throws -> MosquittoBroker {
            let broker = try MosquittoBroker(port: port, extraConfig: extraConfig, listener: listener, persistence: persistence)
            try await broker.launch()
            return broker
        }
        if let fixedPort { return try await start(on: fixedPort) }
        return try await FreePort.retrying(start(on:))
    }

    private init(port: Int, extraConfig: String, listener: Bool, persistence: Bool) throws {
        self.port = port
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-broker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        configFile = directory.appendingPathComponent("mosquitto.conf")
        var lines = [
            // Started as root, mosquitto would drop to the `mosquitto` user and lose access to
            // the temporary files; naming the current user keeps it as it is.
            "user \(NSUserName())",
            "per_listener_settings false",
            "allow_anonymous true",
            "set_tcp_nodelay true",
            "max_inflight_messages 1000",
            "max_queued_messages 100000",
            "max_keepalive 120",
            "log_dest stderr",
            "log_type information",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "persistence \(persistence)",
            "persistence_location \(directory.path)/",
        ]
        if listener { lines.insert("listener \(port) 127.0.0.1", at: 0) }
        let text = lines.joined(separator: "\n") + "\n" + extraConfig.replacingOccurrences(of: "{PORT}", with: "\(port)") + "\n"
        try writeFile(text, to: configFile.path)
        process = ProcessBox()
    }

    private func launch() async throws {
        try process.start(executable: "mosquitto", arguments: ["-c", configFile.path], output: directory.appendingPathComponent("mosquitto.log"))
        // Generous: with the whole suite in parallel on two cores (10,000 connections in one
        // test among them), a broker has been seen to take 13 s to accept its first connection.
        // The check comes before the deadline test, so a late wake-up still sees it up.
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if !process.isRunning {
                let log = (try? String(contentsOf: directory.appendingPathComponent("mosquitto.log"), encoding: .utf8)) ?? ""
                throw FixtureError.brokerDidNotStart(log)
            }
            if FreePort.accepts(port: port) { return }
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        process.terminate()
        throw FixtureError.brokerDidNotStart("no connection on port \(port) within 30 s")
    }

    /// Stops the broker (SIGTERM) and waits for it to exit.
    package func stop() async {
        await process.terminateAndWait(signal: SIGTERM)
    }

    /// Stops the broker and deletes its directory (configuration, log, persistence): the end
    /// of a broker whose test went well.
    package func stopAndRemove() async {
        await stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Kills the broker (SIGKILL) and waits for it to exit.
    package func kill() async {
        await process.terminateAndWait(signal: SIGKILL)
    }

    /// Freezes the broker (SIGSTOP): connections stay open, nothing is answered.
    package func pause() {
        process.signal(SIGSTOP)
    }

    /// Lets a paused broker go on (SIGCONT).
    package func resume() {
        process.signal(SIGCONT)
    }

    /// Starts the broker again on the same port, after ``stop()`` or ``kill()``.
    package func restart() async throws {
        try await launch()
    }

    /// The broker's log, for failure messages.
    package var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("mosquitto.log"), encoding: .utf8)) ?? ""
    }
}

/// Runs `body` with a fresh broker and stops the broker afterwards, whether `body` threw or not.
package func withBroker<T>(
    extraConfig: String = "",
    listener: Bool = true,
    persistence: Bool = false,
    _ body: (MosquittoBroker) async throws -> T
) async throws -> T {
    _ = StallWatch.started
    let broker = try await MosquittoBroker.start(extraConfig: extraConfig, listener: listener, persistence: persistence)
    do {
        let result = try await body(broker)
        // Kept when the body failed, for its log.
        await broker.stopAndRemove()
        return result
    } catch {
        await broker.stop()
        throw error
    }
}
