import Foundation
import Synchronization

/// The resident set size of a process, from `/proc/PID/status` (Linux).
package enum ResidentMemory {
    /// `VmRSS` of `pid` in bytes; nil when the process is gone or has exited (a zombie has
    /// no `VmRSS` line).
    package static func bytes(pid: Int32) -> Int? { field("VmRSS:", pid: pid) }

    /// `VmHWM` of `pid` in bytes: the highest RSS it has had.
    package static func peakBytes(pid: Int32) -> Int? { field("VmHWM:", pid: pid) }

    private static func field(_ name: String, pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let kilobytes = Int(fields[1]) else { return nil }
            return kilobytes * 1024
        }
        return nil
    }
}

/// Samples a process's resident set size every few tens of milliseconds while a storm runs:
/// the peak, and whether the process disappeared.
final class MemoryWatch: Sendable {
    struct State {
        var peak = 0
        var last: Int?
        /// When the process was first found gone.
        var vanished: ContinuousClock.Instant?
    }

    let pid: Int32
    let state = Mutex(State())

    init(pid: Int32) {
        self.pid = pid
        sample()
    }

    /// Takes one sample; returns it (nil when the process is gone).
    @discardableResult
    func sample() -> Int? {
        let bytes = ResidentMemory.bytes(pid: pid)
        state.withLock { state in
            state.last = bytes
            if let bytes { state.peak = max(state.peak, bytes) } else if state.vanished == nil { state.vanished = .now }
        }
        return bytes
    }

    /// Samples until cancelled.
    func run(every interval: Duration = .milliseconds(50)) async {
        while !Task.isCancelled {
            sample()
            try? await Task.sleep(for: interval)
        }
    }

    var peak: Int { state.withLock { $0.peak } }
    var vanished: Bool { state.withLock { $0.vanished != nil } }
}
