import Foundation

/// Latency percentiles by nearest rank, in milliseconds.
package struct LatencySummary: Sendable, Equatable, Codable {
    package var count: Int
    package var p50: Double
    package var p90: Double
    package var p99: Double
    package var max: Double

    package init(count: Int = 0, p50: Double = 0, p90: Double = 0, p99: Double = 0, max: Double = 0) {
        self.count = count
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.max = max
    }

    /// From samples in microseconds.
    init(microseconds samples: [UInt32]) {
        let sorted = samples.sorted()
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return Double(sorted[Swift.min(Swift.max(rank, 1), sorted.count) - 1]) / 1000
        }
        self.init(count: sorted.count, p50: percentile(50), p90: percentile(90), p99: percentile(99), max: Double(sorted.last ?? 0) / 1000)
    }

    var text: String {
        String(format: "p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms", p50, p90, p99, max)
    }
}

/// A snapshot during a run, handed to the progress callback every few seconds.
package struct SimulatorProgress: Sendable, Equatable, Codable {
    package enum Phase: String, Sendable, Equatable, Codable {
        case connecting
        case running
        /// Sending has stopped; waiting for the last replies (or their timeouts).
        case draining
    }

    package var phase: Phase
    /// Seconds since the run started (connecting included).
    package var seconds: Double
    package var devices: Int
    package var connected: Int
    package var sent: Int
    /// Final replies (any status).
    package var replies: Int
    package var outstanding: Int
    package var timeouts: Int
    package var mismatches: Int
    /// Final replies per second since the previous snapshot.
    package var recentRate: Double
    /// Latency of the replies with the expected status since the previous snapshot.
    package var recentLatency: LatencySummary

    /// One line: `[  5.0s] running: 100/100 connected, sent 1834, replies 1830 (366/s), ...`.
    package var line: String {
        var text = String(format: "[%6.1fs] ", seconds) + "\(phase.rawValue): \(connected)/\(devices) connected"
        guard phase != .connecting else { return text }
        text += ", sent \(sent), replies \(replies) (\(Int(recentRate.rounded()))/s), outstanding \(outstanding)"
        text += ", timeouts \(timeouts), mismatches \(mismatches)"
        if recentLatency.count > 0 { text += String(format: ", p50 %.1f ms, p99 %.1f ms", recentLatency.p50, recentLatency.p99) }
        return text
    }
}

/// What a run did, for people (``summary``) and for programs (``SimulatorJSONLine``, `--json`).
package struct SimulatorReport: Sendable, Equatable, Codable {
    /// Per operation: requests sent and final replies by status.
    package struct OperationCounts: Sendable, Equatable, Codable {
        package var sent: Int = 0
        package var replies: [String: Int] = [:]
        package var timeouts: Int = 0
        package var expectStatus: Int = 200

        package init() {}
    }

    /// What the devices did with the commands sent to them.
    package struct CommandCounts: Sendable, Equatable, Codable {
        /// Command messages received, repeats included.
        package var received = 0
        /// Commands run: each command id once.
        package var executed = 0
        /// Attempts of a command id already received, answered from memory (202 while it ran).
        package var repeats = 0
        /// Answers sent by status, 102 progress and 202 included.
        package var answers: [String: Int] = [:]
        /// Times a device went offline for a command.
        package var offline = 0
        /// MQTT 5 commands without Response Topic or Correlation Data: nowhere to answer.
        package var malformed = 0
        /// Answers that could not be published.
        package var publishFailures = 0

        package init() {}

        /// One line: `commands: received 5 (1 repeat), ran 4, answers 102: 3, 200: 4, ...`.
        var line: String {
            let byStatus = answers.keys.sorted().map { "\($0): \(answers[$0] ?? 0)" }.joined(separator: ", ")
            return "commands: received \(received) (\(repeats) repeats), ran \(executed), answers \(byStatus.isEmpty ? "none" : byStatus)"
                + ", offline \(offline), malformed \(malformed), answer failures \(publishFailures)"
        }
    }

    package var profile: String
    package var `protocol`: DeviceProfile.Convention
    package var devices: Int
    package var eventLoops: Int
    /// Seconds from the first request to the last final reply (or timeout).
    package var seconds: Double
    /// Seconds from the first request to the last one sent: `sent / sendSeconds` is the load
    /// actually offered.
    package var sendSeconds: Double
    /// Seconds spent connecting the devices.
    package var connectSeconds: Double
    /// CPU seconds (user and system) this process used for the run, connecting included: the
    /// simulator's own cost when it runs alone, as in `courier devices`.
    package var cpuSeconds: Double
    package var sent: Int
    /// Final replies by status (`"200"`, `"504"`...).
    package var replies: [String: Int]
    /// Interim `202 accepted` replies (early acknowledgements), not counted in ``replies``.
    package var accepted: Int
    /// Replies that reached the wrong device, named the wrong operation, or (echo) carried
    /// another request's payload. A correct bridge has none.
    package var mismatches: Int
    /// Replies that match no request this run sent: unknown correlation, or no reply topic.
    package var unmatched: Int
    /// Second (third...) final replies to a request already answered: the contract promises
    /// exactly one.
    package var duplicates: Int
    /// Replies to requests this run sent but no longer awaited: after their timeout, or after
    /// the run was stopped (Ctrl-C, `courier dev` shutting down) while the bridge still
    /// answered. Not a problem by themselves: a timeout is counted under ``timeouts``.
    package var late: Int
    /// Requests that got no final reply within the profile's timeout.
    package var timeouts: Int
    /// Final replies whose status was not the operation's `expectStatus`.
    package var unexpectedStatus: Int
    /// Publishes that failed (no connection) or that the broker refused.
    package var publishFailures: Int
    /// Requests the broker had no subscriber for (PUBACK reason 16): nothing was serving them.
    package var noSubscribers: Int
    /// Connections re-established during the run.
    package var reconnects: Int
    /// Of the final replies with the expected status: a fast refusal does not make it look
    /// better.
    package var latency: LatencySummary
    /// Final replies per second.
    package var requestsPerSecond: Double
    package var operations: [String: OperationCounts]
    /// A few mismatches and unmatched replies, described.
    package var samples: [String]
    package var commands: CommandCounts

    /// Every request got its expected final reply, nothing was mismatched, and every command
    /// could be answered. Devices that only answer commands need send nothing.
    package var isClean: Bool {
        (sent > 0 || operations.isEmpty) && commands.malformed == 0 && commands.publishFailures == 0 && mismatches == 0 && unmatched == 0 && duplicates == 0 && timeouts == 0 && unexpectedStatus == 0 && publishFailures == 0
    }

    /// The final summary, several lines of text.
    package var summary: String {
        var lines: [String] = []
        lines.append("profile \(profile) (\(`protocol`.rawValue)): \(devices) devices on \(eventLoops) event loop(s), connected in \(String(format: "%.2f", connectSeconds)) s")
        lines.append(
            "sent \(sent) requests in \(String(format: "%.1f", seconds)) s: \(String(format: "%.0f", requestsPerSecond)) replies/s"
                + String(format: " (%.2f CPU seconds in the simulator)", cpuSeconds)
        )
        let statuses = replies.keys.sorted().map { "\($0): \(replies[$0] ?? 0)" }.joined(separator: ", ")
        lines.append("replies by status: \(statuses.isEmpty ? "none" : statuses)" + (accepted > 0 ? " (plus \(accepted) interim 202)" : ""))
        for name in operations.keys.sorted() {
            guard let counts = operations[name] else { continue }
            let byStatus = counts.replies.keys.sorted().map { "\($0): \(counts.replies[$0] ?? 0)" }.joined(separator: ", ")
            lines.append("  \(name): sent \(counts.sent), \(byStatus.isEmpty ? "no replies" : byStatus), timeouts \(counts.timeouts)")
        }
        lines.append("latency: \(latency.text)")
        lines.append("timeouts \(timeouts), mismatches \(mismatches), unmatched \(unmatched), duplicates \(duplicates), late \(late), unexpected status \(unexpectedStatus), publish failures \(publishFailures), reconnects \(reconnects)")
        if noSubscribers > 0 {
            lines.append("warning: the broker had no subscriber for \(noSubscribers) requests: is courier running against this broker?")
        }
        if commands.received > 0 { lines.append(commands.line) }
        for sample in samples { lines.append("  \(sample)") }
        lines.append(isClean ? "result: OK" : "result: PROBLEMS (see above)")
        return lines.joined(separator: "\n")
    }
}

/// One line of `courier devices --json` (JSON Lines on stdout): a progress snapshot every
/// `--progress-every`, and the summary last. `courier-bench` reads them with this type.
package struct SimulatorJSONLine: Sendable, Equatable, Codable {
    package var progress: SimulatorProgress?
    package var summary: SimulatorReport?

    package init(progress: SimulatorProgress) {
        self.progress = progress
    }

    package init(summary: SimulatorReport) {
        self.summary = summary
    }

    /// The line as compact, key-sorted JSON, without its newline.
    package func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    package init(decoding line: some StringProtocol) throws {
        self = try JSONDecoder().decode(Self.self, from: Data(line.utf8))
    }
}
