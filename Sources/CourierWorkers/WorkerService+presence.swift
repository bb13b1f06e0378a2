import CourierCore
import Foundation

#if canImport(Glibc)
import Glibc
import MQTT
import Synchronization
#endif

/// What a worker announces, retained, on `courier/workers/{workerId}` while it serves:
/// `{"concurrency":8,"id":"worker-host-123-9f3a","operations":["echo"],"startedAt":"2025-01-01T12:00:00Z"}`.
///
/// An empty retained payload on the same topic (published on graceful shutdown, or by the broker
/// as the worker's Will when its connection dies) means the worker is gone.
public struct WorkerPresence: Codable, Sendable, Equatable {
    /// The worker id, also the last topic level.
    public var id: String
    /// The operations it takes work for, sorted.
    public var operations: [String]
    /// How many requests it answers at once.
    public var concurrency: Int
    /// When the worker process began serving (ISO 8601, whole seconds).
    public var startedAt: Date

    public init(id: String, operations: [String], concurrency: Int, startedAt: Date) {
        self.id = id
        self.operations = operations
        self.concurrency = concurrency
        self.startedAt = startedAt
    }

    /// The JSON payload, keys sorted, `startedAt` in ISO 8601.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        // Strings, an array of strings, an integer and a date cannot fail to encode.
        return (try? encoder.encode(self)) ?? Data()
    }

    /// Decodes a presence payload; nil for an empty payload (the worker is gone) or one that is
    /// not a presence. `startedAt` may carry fractional seconds (workers in other languages).
    public static func decode(_ payload: Data) -> WorkerPresence? {
        guard !payload.isEmpty else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            let formatter = ISO8601DateFormatter()
            if let date = formatter.date(from: text) { return date }
            formatter.formatOptions.insert(.withFractionalSeconds)
            if let date = formatter.date(from: text) { return date }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 date: \(text)"))
        }
        return try? decoder.decode(WorkerPresence.self, from: payload)
    }
}

extension WorkerService {
    /// A worker id unique to this process and call: `worker-<hostname>-<pid>-<random>`, made of
    /// `[A-Za-z0-9_.-]` and at most 64 characters, so that it is a valid topic level and client
    /// id. Several workers on one host get different ids and never clear each other's presence.
    public static func uniqueWorkerID() -> String {
        let pid = ProcessInfo.processInfo.processIdentifier
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "worker-\(hostLabel())-\(pid)-\(random)"
    }

    /// The host name, with characters outside `[A-Za-z0-9_.-]` replaced by `-`, at most 32
    /// characters; `host` when it cannot be read.
    static func hostLabel() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "host" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let cleaned = String(name.unicodeScalars.prefix(32).map { scalar -> Character in
            switch scalar {
            case "A"..."Z", "a"..."z", "0"..."9", "_", ".", "-": Character(scalar)
            default: "-"
            }
        })
        return cleaned.isEmpty ? "host" : cleaned
    }
}

/// Publishes presence again from the client's connect hook (on the network thread, so the
/// publish itself runs in a task), until the worker starts draining.
final class PresenceAnnouncer: Sendable {
    private let state = Mutex<(client: MQTTClient, topic: String, payload: Data)?>(nil)

    func set(client: MQTTClient, topic: String, payload: Data) {
        state.withLock { $0 = (client, topic, payload) }
    }

    func stop() {
        state.withLock { $0 = nil }
    }

    func announceAgain() {
        guard let (client, topic, payload) = state.withLock({ $0 }) else { return }
        Task { _ = try? await client.publish(topic, payload: payload, qos: .atMostOnce, retain: true) }
    }
}
