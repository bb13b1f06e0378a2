import Foundation

extension PostgresServer {
    /// Runs `body` with the server every caller in this process shares while any of them runs:
    /// the first starts it, the last stops it. Each test makes its own database on it
    /// (``createDatabase()``); a test that stops or freezes its server starts its own instead.
    package static func withShared<T>(_ body: (PostgresServer) async throws -> T) async throws -> T {
        let server = try await SharedServer.registry.acquire()
        do {
            let result = try await body(server)
            await SharedServer.registry.release()
            return result
        } catch {
            await SharedServer.registry.release()
            throw error
        }
    }
}

/// The shared server and how many callers use it.
private actor SharedServer {
    static let registry = SharedServer()

    private var server: Task<PostgresServer, any Error>?
    private var users = 0

    func acquire() async throws -> PostgresServer {
        users += 1
        let starting = server ?? Task { try await PostgresServer.start() }
        server = starting
        do {
            return try await starting.value
        } catch {
            await release()
            throw error
        }
    }

    func release() async {
        users -= 1
        guard users == 0, let stopping = server else { return }
        server = nil
        guard let running = try? await stopping.value else { return }
        await running.stop()
        try? FileManager.default.removeItem(at: running.directory)
    }
}
