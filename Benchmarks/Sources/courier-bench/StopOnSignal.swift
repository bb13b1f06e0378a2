import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Stops the processes a benchmark started when the benchmark itself is interrupted (SIGINT,
/// SIGTERM): each registered stop runs (SIGTERM to the child, then wait), then the benchmark
/// exits. Errors are handled by the scopes that start processes; this covers signals. Use it
/// through ``listening(_:)``.
final class StopOnSignal: Sendable {
    private struct State {
        var stops: [UUID: @Sendable () async -> Void] = [:]
        var stopping = false
    }

    private let state = Mutex(State())

    private init() {}

    /// Runs `body` while SIGINT and SIGTERM run the registered stops; restores the default
    /// actions afterwards.
    static func listening<T>(_ body: (StopOnSignal) async throws -> T) async throws -> T {
        let stopper = StopOnSignal()
        let sources = [SIGINT, SIGTERM].map { number in
            // The default action would end the benchmark at once, leaving its children behind.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stopper.received(number) }
            source.resume()
            return source
        }
        defer {
            for source in sources { source.cancel() }
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
        }
        return try await body(stopper)
    }

    /// Runs `body` with `stop` registered, so that a signal meanwhile runs it.
    func whileRunning<T>(stop: @escaping @Sendable () async -> Void, _ body: () async throws -> T) async throws -> T {
        let id = UUID()
        state.withLock { $0.stops[id] = stop }
        defer { _ = state.withLock { $0.stops.removeValue(forKey: id) } }
        return try await body()
    }

    private func received(_ number: Int32) {
        let stops: [@Sendable () async -> Void]? = state.withLock { state in
            guard !state.stopping else { return nil }
            state.stopping = true
            return Array(state.stops.values)
        }
        guard let stops else { return }
        FileHandle.standardError.write(Data("… signal \(number): stopping the processes this benchmark started\n".utf8))
        Task {
            await withDiscardingTaskGroup { group in
                for stop in stops { group.addTask { await stop() } }
            }
            exit(128 + number)
        }
    }
}
