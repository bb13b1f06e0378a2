import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Loopback port helpers.
package enum FreePort {
    /// Ports handed out come from below the kernel's ephemeral range (32768-60999 on Linux):
    /// a port the kernel picked for `bind(0)` and released is just as likely to be picked next
    /// as the local end of some client's outgoing connection, or by a concurrent `bind(0)`.
    /// With many tests starting brokers and servers at once, both happened.
    private static let range = 20_000..<32_000
    /// Each call moves on, so a process never hands out one port twice (until it wraps); the
    /// random start keeps concurrent processes apart.
    private static let next = Atomic<Int>(Int.random(in: 0..<range.count))

    /// A port on 127.0.0.1 that nothing is bound to right now and that this process has not
    /// handed out before.
    package static func allocate() throws -> Int {
        for _ in 0..<range.count {
            let step = next.wrappingAdd(1, ordering: .relaxed).oldValue
            let port = range.lowerBound + step % range.count
            if canBind(port: port) { return port }
        }
        throw ChildProcessError(message: "no free loopback port in \(range)")
    }

    /// Runs `start` with a free port, and again with another one (`attempts` times at most)
    /// while it throws: a port free when it was picked can still be bound by another process
    /// before `start` binds it. Rethrows the last error.
    package static func retrying<T>(attempts: Int = 5, _ start: (Int) async throws -> T) async throws -> T {
        precondition(attempts > 0)
        var failure: (any Error)?
        for _ in 0..<attempts {
            do {
                return try await start(try allocate())
            } catch {
                failure = error
            }
        }
        throw failure!
    }

    private static func canBind(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// Whether something accepts TCP connections on 127.0.0.1:port.
    package static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
