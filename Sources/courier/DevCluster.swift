import CourierCore
import CourierProcess
import Foundation
import ServiceLifecycle

/// What `courier dev --bridges N` starts beside its broker: `courier bridge` processes `dev-1`
/// ... `dev-N` on one shared store, their HTTP APIs on consecutive ports, and `courier worker`
/// processes, each logging to a file of its own in the state directory. They lead process
/// groups of their own, so a terminal's Ctrl-C reaches only `courier dev`, which stops them by
/// PID: the bridges first (they drain their work, which needs the workers), then the workers.
struct DevCluster: Sendable {
    /// One child process and where it writes.
    struct Child: Sendable {
        let name: String
        let process: ChildProcess
        let logFile: String
        /// The bridge's HTTP API, `http://HOST:PORT`; nil for a worker.
        let api: String?
    }

    let children: [Child]

    var bridges: [Child] { children.filter { $0.api != nil } }
    var workers: [Child] { children.filter { $0.api == nil } }

    /// Starts `workers` workers, then `bridges` bridges on `store`, and waits until every
    /// bridge answers `/readyz` (its broker connected, its store open).
    /// - Parameters:
    ///   - arguments: flags every child takes (configuration file, broker, log level, account).
    ///   - http: the first bridge's address; the others take the ports after it (each a free
    ///     one when its port is 0).
    static func start(
        bridges: Int,
        workers: Int,
        arguments: [String],
        store: PostgresURL,
        http: HTTPAddress,
        stateDirectory: String
    ) async throws -> DevCluster {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        // The store goes through the environment: a password in the arguments shows in ps.
        var bridgeEnvironment = ProcessInfo.processInfo.environment
        bridgeEnvironment["COURIER_STORE_PATH"] = nil
        bridgeEnvironment["COURIER_STORE_URL"] = store.urlWithPassword

        var started: [Child] = []
        do {
            for number in 0..<workers {
                let name = "dev-worker-\(number + 1)"
                let logFile = "\(stateDirectory)/worker-\(name).log"
                let process = try ChildProcess.spawn(
                    executable, ["worker"] + arguments + ["--worker-id", name], output: logFile, ownProcessGroup: true)
                started.append(Child(name: name, process: process, logFile: logFile, api: nil))
            }
            for index in 1...bridges {
                let name = "dev-\(index)"
                let port = http.port == 0 ? try FreePort.allocate() : http.port + index - 1
                let logFile = "\(stateDirectory)/bridge-\(name).log"
                let process = try ChildProcess.spawn(
                    executable, ["bridge"] + arguments + ["--bridge-id", name, "--http", "\(http.host):\(port)"],
                    environment: bridgeEnvironment, output: logFile, ownProcessGroup: true)
                started.append(Child(name: name, process: process, logFile: logFile, api: "http://\(http.host):\(port)"))
            }
            let cluster = DevCluster(children: started)
            try await cluster.waitUntilReady(within: .seconds(60))
            return cluster
        } catch {
            await DevCluster(children: started).stop()
            throw error
        }
    }

    /// Waits until every bridge answers `/readyz` with 200; throws when a child exits first.
    private func waitUntilReady(within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        for bridge in bridges {
            let client = APIClient(base: bridge.api ?? "")
            while (try? await client.send("GET", "/readyz"))?.status != 200 {
                if let exited = children.first(where: { !$0.process.isRunning }) { throw DevChildExited(exited) }
                guard ContinuousClock.now < deadline else {
                    throw DevChildExited(bridge, reason: "bridge \(bridge.name) was not ready within \(limit)")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Stops the bridges (SIGTERM, then wait: they drain), then the workers.
    func stop() async {
        for group in [bridges, workers] {
            await withDiscardingTaskGroup { tasks in
                for child in group { tasks.addTask { _ = await child.process.stop(grace: .seconds(20)) } }
            }
        }
    }

    /// The lines `courier dev` prints about its children.
    var banner: [String] {
        bridges.map { "  bridge \($0.name): \($0.api ?? "") (pid \($0.process.pid), log \($0.logFile))" }
            + workers.map { "  worker \($0.name) (pid \($0.process.pid), log \($0.logFile))" }
    }
}

/// Ends `courier dev` with an error when one of its children exits before it is stopped.
struct DevChildrenWatch: Service {
    let children: [DevCluster.Child]

    func run() async throws {
        let (exits, continuation) = AsyncStream.makeStream(of: DevCluster.Child.self)
        for child in children {
            // Ends when the child exits, at the latest when `courier dev` stops it.
            Task {
                await child.process.wait()
                continuation.yield(child)
            }
        }
        let exited = await cancelWhenGracefulShutdown { await exits.first { _ in true } }
        if let exited, !Task.isShuttingDownGracefully { throw DevChildExited(exited) }
    }
}

/// A child of `courier dev` that exited (or never got ready), with the end of its log.
struct DevChildExited: Error, CustomStringConvertible {
    var description: String

    init(_ child: DevCluster.Child, reason: String? = nil) {
        let log = (try? String(contentsOfFile: child.logFile, encoding: .utf8)) ?? ""
        let tail = log.split(separator: "\n").suffix(10).joined(separator: "\n")
        let what = reason ?? "\(child.api == nil ? "worker" : "bridge") \(child.name) exited with status \(child.process.exitStatus ?? -1)"
        description = "\(what); the end of its log (\(child.logFile)):\n\(tail)"
    }
}
