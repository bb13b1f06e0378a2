import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, stopped by PID.
///
/// Foundation's `Process` starts children with the spawning thread's signal mask, and
/// Dispatch's worker threads block every signal: a daemon started from a task would then
/// ignore SIGTERM. Here the child always starts with an empty mask and default handlers, and
/// with no descriptors but its standard input, output and error.
package final class ChildProcess: Sendable {
    package let pid: pid_t
    package let command: String
    private let exit = Mutex<(status: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))

    /// Starts `executable` (looked up on PATH unless it contains a slash).
    /// - Parameters:
    ///   - output: file that receives stdout (appended); /dev/null when nil.
    ///   - errorOutput: file that receives stderr; the same as stdout when nil.
    ///   - input: file read as stdin; /dev/null when nil.
    ///   - ownProcessGroup: start the child in a process group of its own, so a terminal's
    ///     Ctrl-C reaches only this process, which then stops the child in order.
    ///   - environment: the child's whole environment; this process's when nil.
    package static func spawn(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        output: String? = nil,
        errorOutput: String? = nil,
        input: String? = nil,
        ownProcessGroup: Bool = false
    ) throws -> ChildProcess {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownProcessGroup {
            flags |= POSIX_SPAWN_SETPGROUP
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, input ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let errorOutput {
            posix_spawn_file_actions_addopen(&actions, 2, errorOutput, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        // Nothing else: a descriptor another thread opened without FD_CLOEXEC (libmosquitto's
        // sockets, until they are marked) would otherwise stay open in the child, holding a
        // connection open after this process closed it, and count against the child's limit.
        _ = addCloseFrom?(&actions, 3)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environmentLines = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let envp = environmentLines.map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }

        var pid: pid_t = 0
        let code = posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        guard code == 0 else {
            throw ChildProcessError(message: "cannot start \(executable): \(String(cString: strerror(code)))")
        }
        let child = ChildProcess(pid: pid, command: ([executable] + arguments).joined(separator: " "))
        // waitpid blocks, so it gets a thread of its own rather than a task.
        let spawned = pid
        Thread.detachNewThread {
            var status: Int32 = 0
            while waitpid(spawned, &status, 0) == -1, errno == EINTR {}
            child.exited(status: Self.exitCode(status))
        }
        return child
    }

    private init(pid: pid_t, command: String) {
        self.pid = pid
        self.command = command
    }

    /// True until the process has exited and been reaped.
    package var isRunning: Bool { exit.withLock { $0.status == nil } }

    /// The exit status once exited: the code, or 128 + the signal that killed it.
    package var exitStatus: Int32? { exit.withLock { $0.status } }

    /// Sends a signal (SIGTERM by default) if the process is still running.
    package func signal(_ signal: Int32 = SIGTERM) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits for the process to exit; returns its exit status.
    @discardableResult
    package func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status: Int32? = exit.withLock { state in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// Sends SIGTERM, waits up to `grace`, then SIGKILL; returns the exit status.
    @discardableResult
    package func stop(grace: Duration = .seconds(10)) async -> Int32 {
        signal(SIGTERM)
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.wait()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: grace)
                return false
            }
            // Past the grace period the process is killed, which also ends the waiting task.
            if await group.next() == false { self.signal(SIGKILL) }
            group.cancelAll()
        }
        return await wait()
    }

    private func exited(status: Int32) {
        let waiters = exit.withLock { state in
            state.status = status
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: status) }
    }

    private static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc
/// module does not declare: looked up at run time, nil with an older C library.
private let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? =
    dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self) }

/// A child process could not be started.
package struct ChildProcessError: Error, CustomStringConvertible {
    package var message: String
    package init(message: String) { self.message = message }
    package var description: String { message }
}
