import Foundation
import Synchronization

/// A diagnostic for waits that miss their bounds: with `COURIER_STALL_WATCH=1` in the
/// environment, a thread checks every 200 ms that Swift's cooperative pool runs a trivial
/// task within 3 s, and when it does not, writes every thread's stack (gdb) to
/// `/tmp/stall-{pid}-{n}.txt`, at most three times per process. Started by ``withBroker(extraConfig:listener:persistence:_:)``.
enum StallWatch {
    static let started: Void = {
        guard ProcessInfo.processInfo.environment["COURIER_STALL_WATCH"] != nil else { return }
        Thread.detachNewThread {
            var dumps = 0
            while dumps < 3 {
                usleep(200_000)
                let ran = Flag()
                Task.detached { ran.set() }
                var waited = 0
                while !ran.isSet, waited < 3000 {
                    usleep(10_000)
                    waited += 10
                }
                guard !ran.isSet else { continue }
                dumps += 1
                dumpStacks(to: "/tmp/stall-\(getpid())-\(dumps).txt")
                while !ran.isSet { usleep(10_000) }
            }
        }
    }()

    private static func dumpStacks(to path: String) {
        let gdb = Process()
        gdb.executableURL = URL(fileURLWithPath: "/usr/bin/gdb")
        gdb.arguments = ["-p", "\(getpid())", "-batch", "-ex", "thread apply all bt 30"]
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        gdb.standardOutput = FileHandle(forWritingAtPath: path)
        gdb.standardError = FileHandle.nullDevice
        try? gdb.run()
        gdb.waitUntilExit()
    }
}

private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
