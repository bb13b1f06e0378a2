import CourierCore
import CourierStore
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// The durable store of requests on a PostgreSQL database, which several bridges can share:
/// the contract of ``SQLiteStore`` (schema versions, state machine, compare-and-set
/// transitions, quotas, duplicate suppression, group commits, paging cursors) on tables of the
/// same shape.
///
/// Threads: ``RequestStore`` is synchronous (the bridge calls it from its network thread, the
/// HTTP API from its handlers), postgres-nio is not. Each statement runs with postgres-nio on
/// the store's own event loop, a thread that does nothing else, while the calling thread blocks
/// until its answer is in, as ``SQLiteStore`` blocks on disk I/O. Nothing ever waits on that
/// event loop, and a call that gets no answer within `timeout` drops its connection and throws
/// (the next call connects again), so a frozen server cannot hang the bridge.
///
/// Connections: writes take turns on one connection, so a transaction's statements never
/// interleave; reads take turns on another, so status queries do not wait for group commits.
/// Either reconnects on the call after it was lost: while PostgreSQL is down, calls throw.
///
/// Durability is the server's: a call returns once PostgreSQL has committed.
package final class PostgresStore: Sendable {
    /// The database's URL without the password.
    package let location: String
    /// The bridge this store works for: it owns the requests it stores (see ``SharedRequestStore``).
    package let bridgeID: String
    private let group: MultiThreadedEventLoopGroup
    private let closed = Atomic<Bool>(false)
    let writer: ConnectionSlot
    let reader: ConnectionSlot

    /// Connects to the database at `url` and brings its schema up to date.
    ///
    /// - Parameters:
    ///   - bridgeID: the bridge this store works for.
    ///   - timeout: the longest a call waits for one answer from PostgreSQL (and for a connection).
    ///   - logger: for postgres-nio's connection events.
    package init(
        url: PostgresURL, bridgeID: String, timeout: Duration = .seconds(10), logger: Logger = Logger(label: "courier.store")
    ) throws {
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: .disable)
        configuration.options.connectTimeout = TimeAmount(timeout)
        configuration.options.additionalStartupParameters = [("application_name", "courier")]
        location = url.description
        self.bridgeID = bridgeID
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let eventLoop = group.next()
        writer = ConnectionSlot(configuration: configuration, eventLoop: eventLoop, id: 1, timeout: timeout, logger: logger)
        reader = ConnectionSlot(configuration: configuration, eventLoop: eventLoop, id: 2, timeout: timeout, logger: logger)
        do {
            try writer.run(Self.migrate)
        } catch {
            try? close()
            throw error
        }
    }

    /// Closes the connections and stops the event loop. Any later call throws.
    package func close() throws {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        writer.close()
        reader.close()
        try group.syncShutdownGracefully()
    }
}

extension PostgresStore: SharedRequestStore {}
