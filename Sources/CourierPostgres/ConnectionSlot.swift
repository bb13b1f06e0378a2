import Dispatch
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// One PostgreSQL connection that the store's calls take turns on: made on first use, and made
/// again on the call after it was lost (a server restart, a timeout).
///
/// A call holds the slot for all its statements, so a transaction's statements never
/// interleave with another call's. Each statement runs on the connection's event loop while
/// the calling thread blocks until its answer is in, at most `timeout`.
final class ConnectionSlot: Sendable {
    private enum Held {
        case disconnected
        case connected(PostgresConnection)
        case closed
    }

    private let held = Mutex<Held>(.disconnected)
    private let configuration: PostgresConnection.Configuration
    private let eventLoop: any EventLoop
    private let id: Int
    private let timeout: Duration
    let logger: Logger

    init(configuration: PostgresConnection.Configuration, eventLoop: any EventLoop, id: Int, timeout: Duration, logger: Logger) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.id = id
        self.timeout = timeout
        self.logger = logger
    }

    /// Runs `body` with the connection, connecting first when there is none. When the call
    /// fails and the connection is gone with it, the next call connects again.
    func run<T: Sendable>(_ body: (Session) throws -> T) throws -> T {
        try held.withLock { held in
            let connection: PostgresConnection
            switch held {
            case .closed:
                throw PostgresStoreError.closed
            case .connected(let current) where !current.isClosed:
                connection = current
            case .connected, .disconnected:
                held = .disconnected
                connection = try connect()
                held = .connected(connection)
            }
            do {
                return try body(Session(connection: connection, slot: self))
            } catch {
                if connection.isClosed { held = .disconnected }
                throw error
            }
        }
    }

    /// Closes the connection; later calls throw ``PostgresStoreError/closed``.
    func close() {
        let connection: PostgresConnection? = held.withLock { held in
            defer { held = .closed }
            guard case .connected(let connection) = held else { return nil }
            return connection
        }
        guard let connection else { return }
        _ = try? wait(connection.close(), closing: nil)
    }

    private func connect() throws -> PostgresConnection {
        let connecting = PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger)
        do {
            return try wait(connecting, closing: nil)
        } catch PostgresStoreError.timedOut(let limit) {
            // A frozen server: a connection that still arrives is not wanted any more.
            connecting.whenSuccess { connection in
                // Kept until closed: a connection must not go away open.
                connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
            }
            throw PostgresStoreError.timedOut(limit)
        }
    }

    /// Blocks until `future` completes, at most `timeout`; past it `closing` is closed (which
    /// fails whatever else waits on it, and takes no answer from the server) and
    /// ``PostgresStoreError/timedOut(_:)`` thrown.
    ///
    /// Not NIO's `wait()`: that one waits forever. The caller must not be on `eventLoop`,
    /// which the future needs to complete.
    func wait<T: Sendable>(_ future: EventLoopFuture<T>, closing connection: PostgresConnection?) throws -> T {
        precondition(!eventLoop.inEventLoop, "a PostgresStore call on the store's own event loop would never end")
        let outcome = Outcome<T>()
        future.whenComplete { result in outcome.complete(result) }
        guard let result = outcome.wait(timeout: timeout) else {
            if let connection { _ = try? wait(connection.close(), closing: nil) }
            throw PostgresStoreError.timedOut(timeout)
        }
        do {
            return try result.get()
        } catch let error as PSQLError {
            throw PostgresStoreError(error)
        }
    }
}

/// A future's result, handed from the event loop to the thread waiting for it.
private final class Outcome<T: Sendable>: Sendable {
    private let result = Mutex<Result<T, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    func complete(_ result: Result<T, any Error>) {
        self.result.withLock { $0 = result }
        done.signal()
    }

    /// The result, or nil when none came within `timeout`.
    func wait(timeout: Duration) -> Result<T, any Error>? {
        guard done.wait(timeout: .now() + .nanoseconds(Int(TimeAmount(timeout).nanoseconds))) == .success else { return nil }
        return result.withLock { $0 }
    }
}
