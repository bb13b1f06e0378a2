import CourierTesting
import Foundation
@testable import MQTT
import Testing

/// The buffer alone, without a broker: the network thread is a plain thread here.
@Suite(.timeLimit(.minutes(1)))
struct InboundBufferTests {
    /// A reader that empties a full buffer and parks while the network thread still waits
    /// for room must get the message that thread then pushes. It once went into the queue
    /// behind the parked reader: later messages overtook it, and the last of a burst never
    /// arrived (a suite run in parallel waited for it until its time limit).
    @Test
    func aReaderParkedWhileTheWriterWaitedForRoomGetsEveryMessageInOrder() async throws {
        let count = 2_000
        let buffer = InboundBuffer(capacity: 1, overflowWait: .seconds(60))
        Thread.detachNewThread {
            for index in 0..<count {
                buffer.push(MQTTMessage(topic: "t", payload: Data("\(index)".utf8), qos: .atLeastOnce))
            }
        }
        // Two thread hand-offs per message: generous for a machine loaded many times over.
        let received = try await withTimeout(.seconds(60), "every message read") {
            var received: [Int] = []
            while received.count < count, let message = await buffer.next() {
                received.append(Int(String(decoding: message.payload, as: UTF8.self))!)
            }
            return received
        }
        #expect(received == Array(0..<count))
        #expect(buffer.dropped == 0)
    }
}
