internal import CMosquitto
import Foundation

/// libmosquitto's own wake-up pair, drained by the event loop.
///
/// Every `mosquitto_new` opens a non-blocking socket pair, and every packet libmosquitto queues
/// (each publish, PUBACK, PINGREQ...) writes one byte to it, to wake its own `select()` loop,
/// which reads it. Nothing else reads it, and the library offers no call that returns it. Left
/// alone under an external loop, each busy client's pair fills to its socket buffer and stays
/// full: measured at 213 KB of kernel memory per client (2 GB for 10,000 clients). Later
/// writes then fail with EAGAIN, which libmosquitto ignores, so this is memory, not a hang.
///
/// So the loop finds the pair's read end and drains it whenever it becomes readable (which also
/// wakes the loop for that client, as it wakes libmosquitto's own loop). The descriptor is
/// read from the first fields of `struct mosquitto` (`sock`, `sockpairR`, `sockpairW` in every
/// 1.x and 2.x release), and only trusted when everything checks: the library is 1.x or 2.x,
/// the first field is the live socket `mosquitto_socket` returns, and the other two are
/// distinct non-blocking Unix stream sockets. When anything does not check, the pair is left
/// alone and the client works as described above.
enum WakePair {
    static let layoutKnown: Bool = {
        var major: Int32 = 0
        var minor: Int32 = 0
        var revision: Int32 = 0
        mosquitto_lib_version(&major, &minor, &revision)
        return (1...2).contains(major)
    }()

    /// Both ends of the pair, or nil when they cannot be found with certainty. Call on a
    /// connected client (a live socket), from the thread that drives it.
    static func ends(of mosq: OpaquePointer) -> (read: Int32, write: Int32)? {
        guard layoutKnown else { return nil }
        let fields = UnsafeRawPointer(mosq)
        let sock = fields.load(fromByteOffset: 0, as: Int32.self)
        let pairRead = fields.load(fromByteOffset: 4, as: Int32.self)
        let pairWrite = fields.load(fromByteOffset: 8, as: Int32.self)
        guard sock >= 0, sock == mosquitto_socket(mosq), pairRead >= 0, pairWrite >= 0,
            Set([sock, pairRead, pairWrite]).count == 3,
            isNonBlockingUnixStream(pairRead), isNonBlockingUnixStream(pairWrite)
        else { return nil }
        return (pairRead, pairWrite)
    }

    /// Reads whatever is waiting; the bytes mean nothing.
    static func drain(_ fd: Int32) {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let size = MemoryLayout.size(ofValue: buffer)
        while withUnsafeMutableBytes(of: &buffer, { read(fd, $0.baseAddress, size) }) == size {}
    }

    private static func isNonBlockingUnixStream(_ fd: Int32) -> Bool {
        func option(_ name: Int32) -> Int32? {
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            return getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
        }
        let flags = fcntl(fd, F_GETFL)
        return option(SO_DOMAIN) == AF_UNIX && option(SO_TYPE) == Int32(SOCK_STREAM.rawValue) && flags >= 0 && flags & O_NONBLOCK != 0
    }
}
