import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// CPU time of processes, from `/proc` (Linux): where a run's time goes between the benchmark,
/// the broker and Courier.
enum ProcessCPU {
    /// User plus system CPU seconds used so far by `pid`; nil when it cannot be read.
    static func seconds(pid: Int32) -> Double? {
        guard let fields = statFields(pid: pid), fields.count > 12,
            let user = Double(fields[11]), let system = Double(fields[12])
        else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The children of this process whose command name is `name` (the private mosquitto, say).
    static func children(named name: String) -> [Int32] {
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let fields = statFields(pid: pid), fields.count > 1, Int32(fields[1]) == me else { return false }
            let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            return comm == name
        }
    }

    /// The fields of `/proc/PID/stat` after the command name: state, ppid, ... (field 3 on).
    private static func statFields(pid: Int32) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }
}
