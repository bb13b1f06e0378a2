import CMosquitto
import CSocketBuffers
import CourierTesting
import Foundation
@testable import MQTT
import Testing

/// The event loop hands libmosquitto its socket's bytes from a buffer and gathers its writes in
/// another (`CSocketBuffers`), which works only while the dynamic linker binds libmosquitto's
/// `read`, `write` and `close` to the ones CSocketBuffers defines. These tests fail if it does
/// not (a libmosquitto that calls `recv` or `send`, a link that does not export the symbols),
/// if a packet split across the buffers' fills arrives changed, or if bytes the kernel did not
/// take are lost or reordered.
@Suite(.timeLimit(.minutes(1)))
struct SocketBuffersTests {
    @Test
    func libmosquittoReadsItsSocketThroughTheBuffer() async throws {
        try await withBroker { broker in
            _ = Mosquitto.initialized
            let seen = Seen()
            let mosq = try #require(mosquitto_new("reads-\(UUID().uuidString.prefix(8))", true, Unmanaged.passUnretained(seen).toOpaque()))
            defer { mosquitto_destroy(mosq) }
            Self.watch(mosq)
            let reads = try #require(courier_socket_reads_create())
            defer { courier_socket_reads_destroy(reads) }

            // Not threaded: libmosquitto writes each packet as it is queued.
            #expect(mosquitto_connect(mosq, "127.0.0.1", Int32(broker.port), 30) == Mosquitto.success)
            let fd = mosquitto_socket(mosq)
            try await eventually("CONNACK") {
                Self.readAll(mosq, fd, reads)
                return seen.connected
            }
            let topic = uniqueTopic("reads")
            #expect(mosquitto_subscribe(mosq, nil, topic, 0) == Mosquitto.success)
            try await eventually("SUBACK") {
                Self.readAll(mosq, fd, reads)
                return seen.subscribed
            }
            let count = 20
            for _ in 0..<count {
                #expect(mosquitto_publish(mosq, nil, topic, 1, "x", 0, false) == Mosquitto.success)
            }
            // Each comes back as a PUBLISH of 1 + 1 + 2 + topic + 1 bytes.
            let bytes = count * (5 + topic.utf8.count)
            try await eventually("\(count) messages on the socket") { Self.bytesWaiting(fd) >= bytes }

            courier_socket_reads_begin(reads, fd, 1)
            errno = 0
            _ = mosquitto_loop_read(mosq, 1)
            // libmosquitto has taken at least one packet, in several reads; the first of them
            // took everything the socket held into the buffer.
            #expect(seen.messages >= 1)
            #expect(Self.bytesWaiting(fd) == 0)
            #expect(courier_socket_reads_pending(reads) > 0, "libmosquitto's reads did not come from the buffer")
            while courier_socket_reads_pending(reads) > 0 {
                errno = 0
                _ = mosquitto_loop_read(mosq, 1)
            }
            courier_socket_reads_end(reads)
            #expect(seen.messages == count)
            mosquitto_disconnect(mosq)
        }
    }

    @Test
    func libmosquittoWritesItsSocketThroughTheBuffer() async throws {
        try await withBroker { broker in
            _ = Mosquitto.initialized
            let mosq = try #require(mosquitto_new("writes-\(UUID().uuidString.prefix(8))", true, nil))
            defer { mosquitto_destroy(mosq) }
            let writes = try #require(courier_socket_writes_create())
            defer { courier_socket_writes_destroy(writes) }
            // Threaded: libmosquitto queues each packet for `mosquitto_loop_write`.
            #expect(mosquitto_threaded_set(mosq, true) == Mosquitto.success)
            #expect(mosquitto_connect(mosq, "127.0.0.1", Int32(broker.port), 30) == Mosquitto.success)
            // libmosquitto's descriptor now leads to a socket of the test's, which shows what
            // was sent, and when.
            var pair: [Int32] = [-1, -1]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
            defer { Glibc.close(pair[1]) }
            let fd = mosquitto_socket(mosq)
            #expect(dup2(pair[0], fd) == fd)
            Glibc.close(pair[0])
            let topic = uniqueTopic("writes")
            let count = 20
            for _ in 0..<count {
                #expect(mosquitto_publish(mosq, nil, topic, 1, "x", 0, false) == Mosquitto.success)
            }

            courier_socket_writes_begin(writes, fd)
            _ = mosquitto_loop_write(mosq, 1)
            // libmosquitto has written the CONNECT and every PUBLISH; none has left yet.
            #expect(!mosquitto_want_write(mosq))
            #expect(Self.bytesWaiting(pair[1]) == 0, "libmosquitto's writes were not gathered")
            #expect(courier_socket_writes_end(writes) == 0)
            // Each PUBLISH is 1 + 1 + 2 + topic + 1 bytes.
            #expect(Self.bytesWaiting(pair[1]) >= count * (5 + topic.utf8.count))
        }
    }

    @Test
    func bytesTheKernelDoesNotTakeAreKeptInOrder() throws {
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { for fd in pair { Glibc.close(fd) } }
        let (writer, reader) = (pair[0], pair[1])
        #expect(fcntl(writer, F_SETFL, fcntl(writer, F_GETFL) | O_NONBLOCK) == 0)
        var size: Int32 = 4096
        #expect(setsockopt(writer, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size)) == 0)
        let writes = try #require(courier_socket_writes_create())
        defer { courier_socket_writes_destroy(writes) }

        // Chunks of 1,000 bytes, each of its own value, until a write is refused.
        courier_socket_writes_begin(writes, writer)
        var accepted: [UInt8] = []
        while accepted.count < 10_000_000 {
            let chunk = [UInt8](repeating: UInt8(truncatingIfNeeded: accepted.count / 1000), count: 1000)
            let written = chunk.withUnsafeBytes { Glibc.write(writer, $0.baseAddress, $0.count) }
            guard written > 0 else {
                #expect(errno == EAGAIN)
                break
            }
            #expect(written == 1000)
            accepted += chunk
        }
        let left = courier_socket_writes_end(writes)
        #expect(left > 0, "the kernel took everything: make its buffer smaller")
        var received = [UInt8](repeating: 0, count: accepted.count)
        let got = received.withUnsafeMutableBytes { recv(reader, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        #expect(got > 0)
        let unsent = Array(UnsafeBufferPointer(start: courier_socket_writes_unsent(writes), count: left))
        #expect(Array(received[..<got]) + unsent == accepted)
    }

    @Test
    func aClientShutDownSendsItsDisconnect() async throws {
        try await withBroker { broker in
            let topic = uniqueTopic("will")
            let client = try await broker.connectedClient("clean") {
                $0.will = .init(topic: topic, payload: Data("gone".utf8))
            }
            let id = client.handle.configuration.clientID
            // libmosquitto closes the socket right after writing the DISCONNECT, before the
            // event loop sends what it gathered.
            await client.shutdown()
            try await eventually("the broker logs the disconnect") { broker.log.contains("Client \(id) disconnected") }
            #expect(!broker.log.contains("Client \(id) closed its connection"))
        }
    }

    @Test
    func messagesLargerThanTheBufferArriveWholeAndInOrder() async throws {
        try await withBroker { broker in
            let subscriber = try await broker.connectedClient("sub")
            let publisher = try await broker.connectedClient("pub")
            let inbox = MessageInbox.draining(subscriber)
            let topic = uniqueTopic("large")
            try await subscriber.subscribe(topic)
            // 64 KiB buffer fills: small packets on either side of ones that span several.
            let sizes = [1, 300_000, 2, 65_535, 65_536, 65_537, 3, 1_000_000, 4]
            let payloads = sizes.enumerated().map { index, size in
                Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) })
            }
            for payload in payloads {
                try await publisher.publish(topic, payload: payload)
            }
            let received = try await inbox.wait(for: sizes.count, within: .seconds(30)) { $0.topic == topic }
            #expect(received.map(\.payload) == payloads)
            await publisher.shutdown()
            await subscriber.shutdown()
        }
    }

    /// Bytes the kernel holds for the socket.
    private static func bytesWaiting(_ fd: Int32) -> Int {
        var count: Int32 = 0
        return ioctl(fd, UInt(FIONREAD), &count) == 0 ? Int(count) : 0
    }

    /// Counts what libmosquitto's callbacks see in the client's `Seen`.
    private static func watch(_ mosq: OpaquePointer) {
        mosquitto_connect_callback_set(mosq) { _, context, code in
            if code == 0 { Seen.from(context).connected = true }
        }
        mosquitto_subscribe_callback_set(mosq) { _, context, _, _, _ in Seen.from(context).subscribed = true }
        mosquitto_message_callback_set(mosq) { _, context, _ in Seen.from(context).messages += 1 }
    }

    /// Reads what is there through the buffer, as the event loop does.
    private static func readAll(_ mosq: OpaquePointer, _ fd: Int32, _ reads: OpaquePointer) {
        courier_socket_reads_begin(reads, fd, 1)
        repeat {
            errno = 0
            _ = mosquitto_loop_read(mosq, 1)
        } while courier_socket_reads_pending(reads) > 0
        courier_socket_reads_end(reads)
    }

    /// What libmosquitto's callbacks saw; they run on the test's thread, inside `mosquitto_loop_read`.
    private final class Seen {
        var connected = false
        var subscribed = false
        var messages = 0

        static func from(_ context: UnsafeMutableRawPointer?) -> Seen {
            Unmanaged<Seen>.fromOpaque(context!).takeUnretainedValue()
        }
    }
}
