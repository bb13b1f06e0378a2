import CourierBridge
import CourierCore
import Foundation
import Hummingbird

extension CourierAPI {
    /// `GET /v1/requests/{id}/events`: Server-Sent Events (``EventStreamFrame``) of the
    /// request's state changes and progress, then its result, then the end of the stream. A
    /// request already final gets its result at once. A client that reconnects with
    /// `Last-Event-ID` (after a restart of the bridge, say) gets only what is newer.
    ///
    /// Changes this bridge makes arrive as they happen; what another bridge on a shared store
    /// does (or a restarted one) is read from the store every ``eventPollInterval``.
    @Sendable func events(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let lastEventID = request.headers[.lastEventID].flatMap { Int64($0) } ?? -1
        // Watching before the first read: nothing that happens in between is missed.
        let (token, events) = bridge.watch(id)
        let first: RequestRecord?
        do {
            first = try bridge.store.record(id: id)
        } catch {
            bridge.stopWatching(id, token: token)
            return APIResponse.storeUnavailable(error, logger: context.logger)
        }
        guard let first else {
            bridge.stopWatching(id, token: token)
            return APIResponse.notFound("no request \(id)")
        }
        let bridge = bridge
        let body = ResponseBody { writer in
            defer { bridge.stopWatching(id, token: token) }
            var stream = EventStreamState(lastSent: lastEventID)
            for frame in stream.frames(for: first, progress: bridge.latestProgress(of: id)) {
                try await writer.write(ByteBuffer(string: frame.text))
            }
            var ticks = Self.merging(events, tick: Self.eventPollInterval).makeAsyncIterator()
            while !stream.ended, let next = await ticks.next() {
                let frames: [EventStreamFrame]
                switch next {
                case .event(.changed(let record)), .event(.ended(let record)):
                    frames = stream.frames(for: record, progress: nil)
                case .event(.progress(let report)):
                    frames = stream.frames(for: report)
                case .tick:
                    guard let record = try? bridge.store.record(id: id) else { continue }
                    frames = stream.frames(for: record, progress: nil)
                }
                for frame in frames { try await writer.write(ByteBuffer(string: frame.text)) }
            }
            try await writer.finish(nil)
        }
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache", .accelBuffering: "no"]
        return Response(status: .ok, headers: headers, body: body)
    }

    /// How often an event stream reads the store for changes made elsewhere.
    static let eventPollInterval: Duration = .seconds(1)

    private enum Next: Sendable {
        case event(RequestEvent)
        case tick
    }

    /// The request's events and a tick every `tick`, in one stream that ends with the events.
    private static func merging(_ events: AsyncStream<RequestEvent>, tick: Duration) -> AsyncStream<Next> {
        let (merged, continuation) = AsyncStream<Next>.makeStream()
        let forward = Task {
            for await event in events { continuation.yield(.event(event)) }
            continuation.finish()
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                continuation.yield(.tick)
            }
        }
        continuation.onTermination = { _ in
            forward.cancel()
            ticker.cancel()
        }
        return merged
    }
}

/// What an event stream has sent: each frame is newer than the last, and nothing follows the
/// result.
struct EventStreamState {
    private(set) var lastSent: Int64
    private(set) var ended = false
    private var lastState: (RequestState, Int)?

    init(lastSent: Int64) {
        self.lastSent = lastSent
    }

    /// The frame for the request as it stands, unless it was sent already.
    mutating func frames(for record: RequestRecord, progress: ProgressReport?) -> [EventStreamFrame] {
        guard !ended else { return [] }
        if record.state.isFinal {
            ended = true
            return [.status(record)]
        }
        let state = (record.state, record.attempts)
        guard record.updatedAt > lastSent, lastState.map({ $0 != state }) ?? true else {
            return progress.map { frames(for: $0) } ?? []
        }
        lastState = state
        lastSent = record.updatedAt
        return [.status(record, progress: progress)]
    }

    /// The frame of a progress report newer than anything sent.
    mutating func frames(for report: ProgressReport) -> [EventStreamFrame] {
        guard !ended, report.at > lastSent else { return [] }
        lastSent = report.at
        return [.progress(report)]
    }
}
