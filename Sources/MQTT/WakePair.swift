internal import CMosquitto
import Foundation

/// libmosquitto's own wake-up pair, taken away from clients on an event loop.
///
/// Every `mosquitto_connect*` call (re)opens a non-blocking socket pair, and every packet
/// libmosquitto queues (each publish, PUBACK, PINGREQ...) writes one byte to it, to wake its own
/// `select()` loop, which reads it. A client on an ``MQTTEventLoop`` never runs that loop (the
/// loop learns of queued packets from the client itself), so the pair only costs: two of the
/// client's three descriptors (20,000 of the 30,000 that 10,000 clients would hold, more than
/// many hard limits allow), and, left undrained, its socket buffer (measured at 213 KB of kernel
/// memory per busy client).
///
/// So once a connect has returned, the loop detaches the pair: it sets libmosquitto's two fields
/// to `INVALID_SOCKET`, which the library checks before every use of the pair (it is also what
/// the library is left with when `socketpair` fails), and closes the two descriptors a moment
/// later (see ``closeGrace``). The fields are found in the first words of `struct mosquitto`
/// (`sock`, `sockpairR`, `sockpairW` in every 1.x and 2.x release), and only touched when
/// everything checks: the library is 1.x or 2.x, the first field is the live socket
/// `mosquitto_socket` returns, and the other two are distinct non-blocking Unix stream sockets
/// connected to each other. When anything does not check, the pair is left alone and the client
/// works as described above, with three descriptors.
enum WakePair {
    static let layoutKnown: Bool = {
        var major: Int32 = 0
        var minor: Int32 = 0
        var revision: Int32 = 0
        mosquitto_lib_version(&major, &minor, &revision)
        return (1...2).contains(major)
    }()

    /// How long detached descriptors stay open. A thread queueing a packet reads the field
    /// once to test it and again to write: one that read the old descriptor just before it was
    /// detached writes its byte within this time, to the pair, and never to a socket that
    /// reuses the number. (Only a publish or subscribe made while the client connects for the
    /// first time can race so.) Kept short: while connecting thousands of clients a second,
    /// the pairs waiting to close hold two descriptors each.
    static let closeGrace = Duration.milliseconds(100)

    /// Detaches the pair from a connected client (a live socket) and returns its two
    /// descriptors, for the caller to close after ``closeGrace``; nil when the client has no
    /// pair any more or it cannot be found with certainty. Call from the thread that drives the
    /// client.
    static func detach(from mosq: OpaquePointer) -> (read: Int32, write: Int32)? {
        guard layoutKnown else { return nil }
        let fields = UnsafeMutableRawPointer(mosq)
        let sock = fields.load(fromByteOffset: 0, as: Int32.self)
        let pairRead = fields.load(fromByteOffset: 4, as: Int32.self)
        let pairWrite = fields.load(fromByteOffset: 8, as: Int32.self)
        guard sock >= 0, sock == mosquitto_socket(mosq), pairRead >= 0, pairWrite >= 0,
            Set([sock, pairRead, pairWrite]).count == 3,
            isNonBlockingUnixStream(pairRead), isNonBlockingUnixStream(pairWrite),
            areConnected(from: pairWrite, to: pairRead)
        else { return nil }
        fields.storeBytes(of: -1, toByteOffset: 8, as: Int32.self)
        fields.storeBytes(of: -1, toByteOffset: 4, as: Int32.self)
        return (pairRead, pairWrite)
    }

    /// Whether a byte written to one end comes out of the other (after reading what waits).
    private static func areConnected(from writeEnd: Int32, to readEnd: Int32) -> Bool {
        drain(readEnd)
        var marker: UInt8 = 0x5A
        guard write(writeEnd, &marker, 1) == 1 else { return false }
        var received: UInt8 = 0
        return read(readEnd, &received, 1) == 1 && received == marker
    }

    /// Reads whatever is waiting; the bytes mean nothing.
    private static func drain(_ fd: Int32) {
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
