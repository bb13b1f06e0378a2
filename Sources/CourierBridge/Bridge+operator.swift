import CourierCore
import CourierEngine
import CourierStore
import Foundation

extension Bridge {
    /// Submits a request for clients that do not speak MQTT (the Asynchronous Request-Reply
    /// pattern): the same admission, store and workers as a device's request; the result is
    /// read back from the store.
    package func submit(operation: String, device: String, payload: Data, contentType: String?, idempotencyKey: String?) async -> SubmitOutcome {
        await submit(.http(device: device, operation: operation, payload: payload, contentType: contentType, requestId: idempotencyKey))
    }

    /// Submits a command for a device (over HTTP): stored, then sent to the device.
    package func submit(_ command: CommandSubmission) async -> SubmitOutcome {
        await submit(.command(command))
    }

    /// Counts and logs a request refused over HTTP without being stored, as refusals over MQTT
    /// are; for the HTTP layer's own refusals (an unknown operation, a body over the limit).
    package func recordRefusal(_ code: ReplyCode, operation: String, device: String, message: String) {
        perform(engine.refusalCounts(code, message, operation: operation, device: device, via: "http"))
    }

    /// Cancels a pending request: the device gets 410. Nil when the request is unknown or
    /// already final.
    package func cancel(id: String) async -> RequestRecord? {
        let outcome = engine.cancel(id: id)
        return await onNetworkThread(closed: nil) { self.finishNow(outcome) }
    }

    /// Replays a dead letter as a new request with a fresh deadline, checked again as a new
    /// request is: what cannot run is refused, nothing is stored. Nil when `id` is not a dead
    /// letter.
    package func replay(deadLetterID id: String) async throws -> SubmitOutcome? {
        guard let original = try store.record(id: id), original.state.isDeadLetter,
            configuration.operation(named: original.operation) != nil
        else { return nil }
        return await submit(.replay(original))
    }

    /// The request's latest progress, while a worker reports it.
    package func latestProgress(of id: String) -> ProgressReport? { progress.latest(id) }

    /// Events of the request from now on (``RequestEvent``), ending with its end; call
    /// ``stopWatching(_:token:)`` when done.
    package func watch(_ id: String) -> (token: UUID, events: AsyncStream<RequestEvent>) { watchers.register(id) }

    package func stopWatching(_ id: String, token: UUID) { watchers.remove(id, token: token) }

    /// The request once it is final, or as it stands when `limit` has passed or the task is
    /// cancelled; nil when there is no such request. Woken when the request ends, not polling.
    package func waitUntilFinal(id: String, within limit: Duration) async throws -> RequestRecord? {
        let (token, events) = watchers.register(id)
        defer { watchers.remove(id, token: token) }
        guard let record = try store.record(id: id) else { return nil }
        if record.state.isFinal { return record }
        let final = await withTaskGroup(of: RequestRecord?.self) { group in
            group.addTask {
                for await case .ended(let record) in events { return record }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
        return try final ?? store.record(id: id) ?? record
    }
}
