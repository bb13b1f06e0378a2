import CourierDevices
import CourierTesting
import Foundation
import Testing

/// Several `courier bridge` processes and `courier worker`s on one broker and one PostgreSQL
/// database, as SPEC's "Several bridges, one shared store" runs them.
struct Cluster {
    let broker: MosquittoBroker
    let postgres: PostgresServer
    let database: String
    let directory: URL
    let config: String
    private(set) var bridges: [String: CourierDaemon] = [:]
    private(set) var apis: [String: String] = [:]
    private(set) var workers: [CourierDaemon] = []

    /// Runs `body` with a cluster of `bridges` bridges (`bridge-1`...) and `workers` workers.
    /// - Parameter ownPostgres: a PostgreSQL server of the test's own, for a test that stops
    ///   it; else a database on the process's shared one.
    static func with<T>(
        bridges: Int,
        workers: Int,
        ownPostgres: Bool = false,
        leaseTimeout: String = "2s",
        operations: String = """
              - name: echo
                content: any
                timeout: 30s
                attemptTimeout: 3s
            """,
        _ body: (inout Cluster) async throws -> T
    ) async throws -> T {
        let withServer: ((PostgresServer) async throws -> T) async throws -> T =
            ownPostgres ? { try await withPostgresServer($0) } : { try await PostgresServer.withShared($0) }
        return try await withServer { postgres in
            let database = try await postgres.createDatabase()
            return try await withBroker { broker in
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-cluster-\(UUID().uuidString)")
                let config = try writeCourierConfig(in: directory, broker: broker, leaseTimeout: leaseTimeout, operations: operations)
                var cluster = Cluster(broker: broker, postgres: postgres, database: database, directory: directory, config: config)
                do {
                    for index in 1...bridges { try await cluster.startBridge("bridge-\(index)") }
                    for _ in 0..<workers {
                        cluster.workers.append(try await CourierDaemon.start(
                            ["worker", "--config", config], readyLine: "worker started", directory: directory))
                    }
                    let result = try await body(&cluster)
                    await cluster.stopAll()
                    // Kept when the body failed, for the logs.
                    try? FileManager.default.removeItem(at: directory)
                    return result
                } catch {
                    await cluster.stopAll()
                    throw error
                }
            }
        }
    }

    var storeURL: String { postgres.url(database: database) }

    mutating func startBridge(_ id: String) async throws {
        let bridge = try await CourierDaemon.start(
            ["bridge", "--config", config, "--store", storeURL, "--bridge-id", id, "--http", "127.0.0.1:0"],
            readyLine: "bridge started", directory: directory
        )
        bridges[id] = bridge
        apis[id] = try await bridge.httpAPI()
    }

    /// The bridge's HTTP API.
    func api(_ id: String) -> String { apis[id]! }

    /// `curl` against a bridge's HTTP API: the status code and the body.
    func http(_ id: String, _ path: String, method: String = "GET") async throws -> (status: Int, body: String) {
        let output = try await Command.run("curl", ["-s", "-X", method, "-w", "\n%{http_code}", api(id) + path])
        let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// The bridge that owns a request in the store.
    func owner(of requestID: String) async throws -> String {
        try await postgres.psql("SELECT owner FROM requests WHERE id = '\(requestID)'", database: database)
    }

    func stopAll() async {
        for daemon in Array(bridges.values) + workers where daemon.isRunning { await daemon.stop() }
    }

    /// Runs `courier devices` with this profile against the cluster's broker, without waiting.
    func startDevices(profile yaml: String, count: Int) async throws -> CourierDaemon {
        let profile = directory.appendingPathComponent("profile-\(UUID().uuidString.prefix(6)).yaml")
        try writeFile(yaml, to: profile.path)
        return try await CourierDaemon.start(
            ["devices", "--profile", profile.path, "--count", "\(count)", "--broker", broker.url, "--json", "--progress-every", "500ms"],
            readyLine: "\"progress\"", directory: directory
        )
    }
}

extension CourierDaemon {
    /// The JSON Lines `courier devices --json` wrote so far.
    var simulatorLines: [SimulatorJSONLine] {
        log.split(separator: "\n").compactMap { line in
            line.hasPrefix("{") ? try? SimulatorJSONLine(decoding: line) : nil
        }
    }

    /// Waits until a simulator's progress shows at least `count` final replies.
    func waitForReplies(_ count: Int, within limit: Duration = .seconds(60)) async throws {
        try await eventually("\(count) replies", within: limit) {
            simulatorLines.compactMap(\.progress).last.map { $0.replies >= count } ?? false
        }
    }

    /// The simulator's final report, once it has exited.
    func simulatorSummary() async throws -> SimulatorReport {
        await wait()
        return try #require(simulatorLines.compactMap(\.summary).last, "no summary in \(log.suffix(2000))")
    }
}
