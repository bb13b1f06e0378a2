import Foundation
import Synchronization

/// How a handler reports on long work while it runs: progress for the device, heartbeats for
/// the bridge. The pool binds one to ``current`` for each attempt it runs, so any code the
/// handler calls (and the child tasks it starts) can reach it; outside a pool it is nil.
///
/// ```swift
/// func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
///     let progress = WorkProgress.current
///     for (index, chunk) in chunks.enumerated() {
///         try await process(chunk)  // throws CancellationError once the request is cancelled
///         progress?.report(percent: 100 * (index + 1) / chunks.count, message: "chunk \(index + 1) done")
///     }
///     return HandlerResponse(payload: summary)
/// }
/// ```
///
/// Each report is sent at once and does not wait: over MQTT (``WorkerService``) to the work
/// message's Response Topic with its Correlation Data and user property `status` 102 (with
/// `progress` when a percentage is given) or 202; in process (`courier serve`) to the bridge
/// through ``WorkerPool/attempt(_:progress:)``. The bridge forwards at most one progress report
/// per request per `progressInterval` to the device (the latest wins), so report as often as
/// is convenient. Reports made after the handler returned, or after the request was
/// cancelled, are dropped.
public struct WorkProgress: Sendable {
    /// The reporter of the attempt the current task runs, bound by the pool.
    @TaskLocal public static var current: WorkProgress?

    /// The bridge's id of the request being answered.
    public let requestID: String
    private let sink: @Sendable (ProgressUpdate) -> Void
    private let open: Gate

    /// A reporter that hands every update to `sink` until ``close()``; to test a handler, bind
    /// one with `WorkProgress.$current.withValue(reporter) { ... }`.
    public init(requestID: String, sink: @escaping @Sendable (ProgressUpdate) -> Void) {
        self.requestID = requestID
        self.sink = sink
        self.open = Gate()
    }

    /// Reports progress (status 102) with a status text (`text/plain; charset=utf-8`).
    public func report(percent: Int? = nil, message: String) {
        send(.progress(percent: percent, payload: Data(message.utf8), contentType: "text/plain; charset=utf-8"))
    }

    /// Reports progress (status 102) with a payload of any content type, possibly empty.
    public func report(percent: Int?, payload: Data = Data(), contentType: String? = nil) {
        send(.progress(percent: percent, payload: payload, contentType: contentType))
    }

    /// Reports progress (status 102) with a JSON payload (`application/json`).
    public func report(percent: Int? = nil, json: some Encodable) throws {
        send(.progress(percent: percent, payload: try JSONCoding.encode(json), contentType: JSONCoding.contentType))
    }

    /// Tells the bridge the work is still going (status 202): it renews the attempt timer, so
    /// work longer than `attemptTimeout` is not retried elsewhere. The deadline still holds.
    public func heartbeat() {
        send(.heartbeat)
    }

    /// Stops sending: later reports are dropped. The pool closes the reporter when the handler
    /// returns or the request is cancelled.
    public func close() {
        open.close()
    }

    private func send(_ update: ProgressUpdate) {
        if open.isOpen { sink(update) }
    }

    /// Shared by the copies of one reporter.
    private final class Gate: Sendable {
        private let closed = Atomic<Bool>(false)
        var isOpen: Bool { !closed.load(ordering: .acquiring) }
        func close() { closed.store(true, ordering: .releasing) }
    }
}
