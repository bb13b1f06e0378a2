import Foundation

/// The processes on this machine, as `/proc` lists them (Linux), to check what a daemon left
/// behind.
package enum ProcessTable {
    /// One process's parent and process group, from `/proc/{pid}/stat`.
    package struct Entry: Sendable, Equatable {
        package var pid: pid_t
        package var parent: pid_t
        package var group: pid_t
    }

    /// Every process now running (zombies included: they still hold their pid).
    package static func entries() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { pid_t($0) }.compactMap(entry)
    }

    /// The process, or nil when there is none with that pid.
    package static func entry(_ pid: pid_t) -> Entry? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // "pid (command) state ppid pgrp ...": the command may hold spaces and parentheses.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let parent = pid_t(fields[1]), let group = pid_t(fields[2]) else { return nil }
        return Entry(pid: pid, parent: parent, group: group)
    }

    /// Whether a process with this pid exists.
    package static func exists(_ pid: pid_t) -> Bool { entry(pid) != nil }

    /// The processes whose parent is `pid`.
    package static func children(of pid: pid_t) -> [pid_t] { entries().filter { $0.parent == pid }.map(\.pid) }

    /// The processes in process group `group`.
    package static func members(ofGroup group: pid_t) -> [pid_t] { entries().filter { $0.group == group }.map(\.pid) }
}
