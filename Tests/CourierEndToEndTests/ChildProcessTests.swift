import CourierProcess
import CourierTesting
import Foundation
import Testing

@Suite(.timeLimit(.minutes(1)))
struct ChildProcessTests {
    /// A descriptor this process holds without FD_CLOEXEC (as libmosquitto's sockets are for a
    /// moment) stays out of a child.
    @Test func aChildGetsNoDescriptorButItsStandardOnes() async throws {
        let leaked = open("/dev/null", O_RDONLY)
        #expect(leaked > 2)
        defer { close(leaked) }
        let result = try await Command.run("/bin/sh", ["-c", "ls /proc/$$/fd"])
        #expect(result.stdout.split(separator: "\n") == ["0", "1", "2"], "\(result.stdout)")
    }
}
