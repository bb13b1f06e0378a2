import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// CPU time of processes, from `/proc` (Linux): where a run's time goes between the benchmark,
/// the broker and Courier.
enum ProcessCPU {
    /// User plus system CPU seconds used so far by `pid`; nil when it cannot be read.
    static func seconds(pid: Int32) -> Double? {
        seconds(path: "/proc/\(pid)/stat")
    }

    private static func seconds(path: String) -> Double? {
        guard let fields = statFields(path: path), fields.count > 12,
            let user = Double(fields[11]), let system = Double(fields[12])
        else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// User plus system CPU seconds used so far by this process's threads named `name`.
    static func threadSeconds(named name: String) -> Double {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.reduce(0) { total, task in
            let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            guard comm == name, let seconds = seconds(path: "/proc/self/task/\(task)/stat") else { return total }
            return total + seconds
        }
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
        statFields(path: "/proc/\(pid)/stat")
    }

    private static func statFields(path: String) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: path, encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }
}
