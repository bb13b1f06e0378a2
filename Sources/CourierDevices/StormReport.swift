import Foundation

/// What a hostile-input storm did and what came back, for people (``summary``) and programs
/// (`Codable`, `courier devices storm --json`).
package struct StormReport: Sendable, Equatable, Codable {
    /// The hostile messages and what the broker (or the client library) made of them.
    package struct Hostile: Sendable, Equatable, Codable {
        /// Messages handed to a client or a wire connection.
        package var sent = 0
        /// Sent through an MQTT client (libmosquitto) or written by hand on a socket.
        package var viaClient = 0
        package var viaWire = 0
        /// Topic, payload and property bytes of every message sent.
        package var bytes = 0
        /// Acknowledged by the broker (PUBACK under 0x80, or a QoS 0 message written).
        package var acknowledged = 0
        /// Of those, PUBACKs saying nobody subscribed (reason 16).
        package var noSubscribers = 0
        /// PUBACKs of 0x80 and above (refused), by reason code.
        package var refusedByBroker: [String: Int] = [:]
        /// Messages the broker answered by disconnecting (DISCONNECT reason code, or `closed`).
        package var disconnectedByBroker: [String: Int] = [:]
        /// Messages libmosquitto would not send (a permanent error before the wire).
        package var refusedByClient = 0
        /// Messages not sent because the connection was down (QoS 0) or the wire failed.
        package var notSent = 0
        /// Reconnections of the hostile MQTT clients, and wire connections made.
        package var clientReconnects = 0
        package var wireConnections = 0
        /// Messages per category.
        package var byCategory: [String: Int] = [:]

        package init() {}
    }

    /// The well-behaved devices' requests during the storm.
    package struct Good: Sendable, Equatable, Codable {
        package var sent = 0
        /// Exactly the reply the request must get: its topic, status 200, its correlation, the
        /// right payload.
        package var answeredCorrectly = 0
        /// Final replies with another status, payload or topic.
        package var wrong = 0
        /// No final reply within the reply timeout.
        package var missing = 0
        /// Second final replies to a request.
        package var duplicates = 0
        /// 202 or 102 replies, which these operations (no `ack`) never send.
        package var interim = 0
        /// Replies after the request was given up on (counted as missing too).
        package var late = 0
        /// Latency of the correct replies, from publish to reply.
        package var latency = LatencySummary()

        package init() {}
    }

    /// The bridge's resident set size, in bytes.
    package struct Memory: Sendable, Equatable, Codable {
        package var atStart: Int
        /// After the warm-up requests, before the storm.
        package var afterWarmUp: Int
        package var peak: Int
        package var atEnd: Int?

        package init(atStart: Int, afterWarmUp: Int, peak: Int, atEnd: Int?) {
            self.atStart = atStart
            self.afterWarmUp = afterWarmUp
            self.peak = peak
            self.atEnd = atEnd
        }
    }

    package var seed: UInt64
    /// The run's token, part of every device id and correlation: with the seed, it makes
    /// the same messages again (`--token`).
    package var token: String
    package var hostile: Hostile
    package var good: Good
    /// Messages the bystander got: it never asks, so every one is a stray.
    package var strays: Int
    /// Messages good devices got that answer none of their requests.
    package var unsolicited: Int
    /// Seconds from the first hostile message to the last one sent, and to the last good reply.
    package var sendSeconds: Double
    package var seconds: Double
    /// Hostile messages sent per second.
    package var hostilePerSecond: Double
    /// Milliseconds until a fresh request after the storm got its correct reply; nil when it
    /// got none or a wrong one (see ``afterStormProblem``).
    package var afterStormMilliseconds: Double?
    package var afterStormProblem: String?
    /// The bridge process, when its pid was given: its memory, and whether it still runs.
    package var memory: Memory?
    package var bridgeAlive: Bool?
    /// A few problems, described.
    package var samples: [String]

    /// Every good request got its one correct reply, nothing strayed, the request after the
    /// storm was answered, and the bridge (when watched) still runs.
    package var isClean: Bool {
        good.sent > 0 && good.answeredCorrectly == good.sent && good.wrong == 0 && good.missing == 0 && good.duplicates == 0
            && good.interim == 0 && strays == 0 && unsolicited == 0 && afterStormMilliseconds != nil && bridgeAlive != false
    }

    /// The report as text, several lines.
    package var summary: String {
        func mb(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_048_576) }
        func counts(_ map: [String: Int]) -> String {
            map.isEmpty ? "none" : map.keys.sorted().map { "\($0): \(map[$0] ?? 0)" }.joined(separator: ", ")
        }
        var lines: [String] = []
        lines.append("seed \(seed), token \(token)")
        lines.append(
            "hostile: \(hostile.sent) messages (\(hostile.viaClient) through MQTT clients, \(hostile.viaWire) on the wire), "
                + "\(mb(hostile.bytes)) in \(String(format: "%.1f", sendSeconds)) s: \(String(format: "%.0f", hostilePerSecond)) messages/s"
        )
        lines.append(
            "  broker: \(hostile.acknowledged) acknowledged (\(hostile.noSubscribers) without subscribers), refused \(counts(hostile.refusedByBroker)), "
                + "disconnected the sender for \(counts(hostile.disconnectedByBroker)); libmosquitto refused \(hostile.refusedByClient), not sent \(hostile.notSent)"
        )
        lines.append("  reconnects: \(hostile.clientReconnects) MQTT clients, \(hostile.wireConnections) wire connections")
        lines.append(
            "good: \(good.sent) requests, \(good.answeredCorrectly) answered correctly, \(good.wrong) wrong, \(good.missing) missing, "
                + "\(good.duplicates) duplicate, \(good.interim) interim\(good.late > 0 ? ", \(good.late) late" : ""); latency \(good.latency.text)"
        )
        lines.append("strays: \(strays) to the bystander, \(unsolicited) unsolicited to good devices")
        if let afterStormMilliseconds {
            lines.append(String(format: "after the storm: a fresh request answered in %.1f ms", afterStormMilliseconds))
        } else {
            lines.append("after the storm: a fresh request was not answered correctly: \(afterStormProblem ?? "no reply")")
        }
        if let memory {
            lines.append(
                "bridge RSS: \(mb(memory.atStart)) at start, \(mb(memory.afterWarmUp)) after warm-up, peak \(mb(memory.peak))"
                    + (memory.atEnd.map { ", \(mb($0)) at the end" } ?? "")
            )
        }
        if let bridgeAlive { lines.append("bridge process: \(bridgeAlive ? "running" : "GONE")") }
        for sample in samples { lines.append("  \(sample)") }
        lines.append(isClean ? "result: OK" : "result: PROBLEMS (see above)")
        return lines.joined(separator: "\n")
    }

    /// The report as pretty, key-sorted JSON.
    package func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
