import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL server for tests: `initdb` in a temporary directory, then `postgres`
/// itself on a free loopback port, stopped by PID. Its user `courier` logs in with a password
/// over TCP, as a bridge does.
///
/// initdb refuses to run as root: as root, the server runs as the `postgres` user (which
/// Debian's package creates) and owns the directory, through `setpriv`, which executes the
/// program in its own place so that the PID is the server's. Every PostgreSQL program runs
/// under `nice`: on a machine the whole suite keeps busy, the processes under test come first.
/// The binaries are Debian's (`/usr/lib/postgresql/VERSION/bin`, the newest) or else the first
/// on PATH.
package final class PostgresServer: Sendable {
    package let directory: URL
    package let username = "courier"
    package let password = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    private let binaries: URL
    /// What the server's programs run under: `nice`, then `setpriv ... --` when the server runs
    /// as another user.
    private let runAs: [String]
    private let chosenPort: Mutex<Int>
    private let process = ProcessBox()

    /// The loopback port it listens on; it keeps it across ``restart()``.
    package var port: Int { chosenPort.withLock { $0 } }

    /// `postgres://courier:PASSWORD@127.0.0.1:PORT/DATABASE`.
    package func url(database: String) -> String {
        "postgres://\(username):\(password)@127.0.0.1:\(port)/\(database)"
    }

    /// Creates a cluster and starts the server on a free port; waits until it accepts queries.
    /// Throws ``FixtureError/postgresNotInstalled(_:)`` when there is no PostgreSQL to run.
    package static func start() async throws -> PostgresServer {
        let server = try PostgresServer(binaries: try installation())
        do {
            try await server.initialize()
            return try await FreePort.retrying { port in
                server.chosenPort.withLock { $0 = port }
                try await server.launch()
                return server
            }
        } catch {
            await server.stop()
            throw error
        }
    }

    private init(binaries: URL) throws {
        self.binaries = binaries
        chosenPort = Mutex(0)  // chosen at launch
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        guard getuid() == 0 else {
            runAs = Self.nice
            return
        }
        guard let user = getpwnam("postgres") else {
            throw FixtureError.postgresDidNotStart(
                "initdb refuses to run as root, and there is no `postgres` user to run it as (Debian's postgresql package creates one)")
        }
        let (uid, gid) = (user.pointee.pw_uid, user.pointee.pw_gid)
        guard chown(directory.path, uid, gid) == 0 else {
            throw FixtureError.postgresDidNotStart("cannot give \(directory.path) to the postgres user: \(String(cString: strerror(errno)))")
        }
        runAs = Self.nice + ["setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--"]
    }

    private static let nice = ["nice", "-n", "10"]

    /// The directory of `initdb` and `postgres`.
    private static func installation() throws -> URL {
        let fileManager = FileManager.default
        let debian = "/usr/lib/postgresql"
        let versions = ((try? fileManager.contentsOfDirectory(atPath: debian)) ?? []).compactMap(Int.init).sorted(by: >)
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = versions.map { "\(debian)/\($0)/bin" } + path.split(separator: ":").map(String.init)
        guard let found = candidates.first(where: { fileManager.isExecutableFile(atPath: "\($0)/initdb") && fileManager.isExecutableFile(atPath: "\($0)/postgres") })
        else {
            throw FixtureError.postgresNotInstalled(
                "no initdb and postgres in \(debian)/*/bin or on PATH; Scripts/install-deps.sh installs Debian's postgresql")
        }
        return URL(fileURLWithPath: found)
    }

    private func tool(_ name: String) -> String { binaries.appendingPathComponent(name).path }

    /// `initdb`: UTF-8, C locale, the `courier` user with its password for TCP logins and
    /// trust on the Unix socket in the directory (for ``createDatabase()``).
    private func initialize() async throws {
        let passwordFile = directory.appendingPathComponent("password")
        try writeFile(password, to: passwordFile.path)
        let arguments = [
            tool("initdb"), "--pgdata", directory.appendingPathComponent("data").path, "--username", username,
            "--pwfile", passwordFile.path, "--auth-host", "scram-sha-256", "--auth-local", "trust",
            "--encoding", "UTF8", "--locale", "C", "--no-sync",
        ]
        let result = try await Command.run(runAs[0], Array((runAs + arguments).dropFirst()), timeout: .seconds(120))
        guard result.status == 0 else {
            throw FixtureError.postgresDidNotStart("initdb exited with \(result.status): \(result.stderr)\(result.stdout)")
        }
    }

    /// Starts `postgres` and waits until it answers.
    private func launch() async throws {
        let arguments = [
            tool("postgres"), "-D", directory.appendingPathComponent("data").path, "-p", "\(port)",
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=\(directory.path)",
            // A test server: what a crash of the machine would need is not worth the time.
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "shared_buffers=16MB", "-c", "max_connections=200",
        ]
        let command = runAs + arguments
        try process.start(executable: command[0], arguments: Array(command.dropFirst()), output: directory.appendingPathComponent("postgres.log"))
        // Generous, as for mosquitto: the whole suite shares two cores.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw FixtureError.postgresDidNotStart(log) }
            // pg_isready only once the port is open: it tells "starting up" from "ready".
            if FreePort.accepts(port: port),
                try await Command.run(Self.nice[0], Self.nice.dropFirst() + [tool("pg_isready"), "-q", "-h", "127.0.0.1", "-p", "\(port)"], timeout: .seconds(10)).status == 0
            {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        await process.terminateAndWait(signal: SIGKILL)
        throw FixtureError.postgresDidNotStart("no answer on port \(port) within 60 s: \(log)")
    }

    /// Creates an empty database owned by `courier`; returns its name.
    package func createDatabase() async throws -> String {
        let name = "courier_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await psql("CREATE DATABASE \(name)", database: "postgres")
        return name
    }

    /// Runs SQL with `psql` as `courier` (over the Unix socket); its rows, one a line, columns
    /// separated by `|`.
    @discardableResult
    package func psql(_ sql: String, database: String) async throws -> String {
        let arguments = [tool("psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", directory.path, "-p", "\(port)", "-U", username, "-d", database, "-c", sql]
        let result = try await Command.run(Self.nice[0], Self.nice.dropFirst() + arguments)
        guard result.status == 0 else { throw FixtureError.commandFailed("psql \(sql): \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops the server (a fast shutdown: SIGINT) and waits until it has exited.
    package func stop() async {
        await process.terminateAndWait(signal: SIGINT)
    }

    /// Starts the server again on the same port and data, after ``stop()``.
    package func restart() async throws {
        try await launch()
    }

    /// Freezes the server and every process it started (SIGSTOP): connections stay open,
    /// nothing is answered.
    package func pause() {
        signalAll(SIGSTOP)
    }

    /// Lets a paused server go on (SIGCONT).
    package func resume() {
        signalAll(SIGCONT)
    }

    private func signalAll(_ signal: Int32) {
        guard let pid = process.pid else { return }
        process.signal(signal)
        for child in ProcessTable.children(of: pid) { kill(child, signal) }
    }

    /// The server's log, for failure messages.
    package var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("postgres.log"), encoding: .utf8)) ?? ""
    }
}

/// Runs `body` with a fresh server, then stops it and removes its directory (kept, for its
/// log, when `body` threw).
package func withPostgresServer<T>(_ body: (PostgresServer) async throws -> T) async throws -> T {
    let server = try await PostgresServer.start()
    do {
        let result = try await body(server)
        await server.stop()
        try? FileManager.default.removeItem(at: server.directory)
        return result
    } catch {
        await server.stop()
        throw error
    }
}
