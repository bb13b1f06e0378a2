import Foundation
import MQTT
import Synchronization

/// Tasks waiting for replies, matched by the 8-byte Correlation Data of each request.
///
/// A reply can arrive before its requester starts waiting (the requester first awaits its own
/// PUBACK): such a reply is kept as arrived and handed over when the wait begins.
final class PendingReplies: Sendable {
    private enum Slot {
        case waiting(CheckedContinuation<Void, any Error>)
        case arrived
    }

    private struct State {
        var nextID: UInt64 = 0
        var slots: [UInt64: Slot] = [:]
        var failure: ReplyFailure?
    }

    /// Why waiting stopped, given to every current and later waiter.
    struct ReplyFailure: Error, CustomStringConvertible {
        let description: String
    }

    private let state = Mutex(State())

    /// The hook to give the client that receives the replies.
    var hook: MQTTClient.MessageHook {
        { [self] message in
            if let id = message.properties.correlationData.flatMap(Self.decode) { deliver(id) }
        }
    }

    /// A correlation id not used before, and its Correlation Data.
    func makeID() -> (id: UInt64, data: Data) {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return (id, withUnsafeBytes(of: id.littleEndian) { Data($0) })
    }

    /// Waits for the reply to `id`.
    func wait(for id: UInt64) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, ReplyFailure>? = state.withLock { state in
                if case .arrived = state.slots.removeValue(forKey: id) { return .success(()) }
                if let failure = state.failure { return .failure(failure) }
                state.slots[id] = .waiting(continuation)
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// Fails every waiter, now and later; for a reply that never comes.
    func fail(_ reason: String) {
        let failure = ReplyFailure(description: reason)
        let waiters: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            state.failure = failure
            defer { state.slots = [:] }
            return state.slots.values.compactMap { slot in
                if case .waiting(let continuation) = slot { continuation } else { nil }
            }
        }
        for waiter in waiters { waiter.resume(throwing: failure) }
    }

    private func deliver(_ id: UInt64) {
        let waiter: CheckedContinuation<Void, any Error>? = state.withLock { state in
            if case .waiting(let continuation) = state.slots.removeValue(forKey: id) { return continuation }
            state.slots[id] = .arrived
            return nil
        }
        waiter?.resume()
    }

    private static func decode(_ data: Data) -> UInt64? {
        guard data.count == 8 else { return nil }
        return UInt64(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    }
}
