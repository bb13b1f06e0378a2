import CMosquitto
import CSocketReads
import CourierTesting
import Foundation
@testable import MQTT
import Testing

/// The event loop hands libmosquitto its socket's bytes from a buffer (`CSocketReads`), which
/// works only while the dynamic linker binds libmosquitto's `read` to the one CSocketReads
/// defines. These tests fail if it does not (a libmosquitto that reads with `recv`, a link that
/// does not export the symbol), or if a packet split across the buffer's fills arrives changed.
@Suite(.timeLimit(.minutes(1)))
struct SocketReadsTests {
    @Test
    func libmosquittoReadsItsSocketThroughTheBuffer() async throws {
        try await withBroker { broker in
            _ = Mosquitto.initialized
            let seen = Seen()
            let mosq = try #require(mosquitto_new("reads-\(UUID().uuidString.prefix(8))", true, Unmanaged.passUnretained(seen).toOpaque()))
            defer { mosquitto_destroy(mosq) }
            mosquitto_connect_callback_set(mosq) { _, context, code in
                if code == 0 { Seen.from(context).connected = true }
            }
            mosquitto_subscribe_callback_set(mosq) { _, context, _, _, _ in Seen.from(context).subscribed = true }
            mosquitto_message_callback_set(mosq) { _, context, _ in Seen.from(context).messages += 1 }
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
