import Foundation

/// The bounded queue between libmosquitto's network thread and the task reading
/// ``MQTTClient/messages``.
///
/// When the queue is full the network thread waits for room, up to a bound: while it waits it
/// reads nothing from the socket, so the broker's sends stall (backpressure through TCP). Past
/// the bound the message is dropped and counted, so a consumer that stopped reading can never
/// wedge the connection (keep-alives, acknowledgements of our own publishes).
///
/// `@unchecked Sendable`: every mutable field is read and written only with `condition` locked.
final class InboundBuffer: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [MQTTMessage] = []
    private var head = 0
    private var consumer: CheckedContinuation<MQTTMessage?, Never>?
    private var finished = false
    private var droppedCount = 0
    private let capacity: Int
    private let overflowWait: Duration

    init(capacity: Int, overflowWait: Duration) {
        self.capacity = max(1, capacity)
        self.overflowWait = overflowWait
    }

    /// Number of messages dropped because the consumer did not keep up.
    var dropped: Int {
        condition.lock()
        defer { condition.unlock() }
        return droppedCount
    }

    /// Called on the network thread. Returns false when the message was dropped.
    @discardableResult
    func push(_ message: MQTTMessage) -> Bool {
        condition.lock()
        let deadline = Date(timeIntervalSinceNow: Double(overflowWait.milliseconds) / 1000)
        while count >= capacity, !finished, condition.wait(until: deadline) {}
        if finished {
            condition.unlock()
            return false
        }
        // Checked after waiting for room, not before: the reader may have emptied the queue
        // and parked meanwhile, and a message queued then would wait for the next push (the
        // last one of a burst for ever).
        if let consumer {
            self.consumer = nil
            condition.unlock()
            consumer.resume(returning: message)
            return true
        }
        guard count < capacity else {
            droppedCount += 1
            condition.unlock()
            return false
        }
        queue.append(message)
        condition.unlock()
        return true
    }

    /// The next message, or nil once the buffer is finished and drained, or when the waiting
    /// task is cancelled (a `for await` loop over ``MQTTClient/messages`` then ends).
    func next() async -> MQTTMessage? {
        await withTaskCancellationHandler {
            await waitForNext()
        } onCancel: {
            condition.lock()
            let waiting = consumer
            consumer = nil
            condition.unlock()
            waiting?.resume(returning: nil)
        }
    }

    private func waitForNext() async -> MQTTMessage? {
        await withCheckedContinuation { (continuation: CheckedContinuation<MQTTMessage?, Never>) in
            condition.lock()
            if head < queue.count {
                let message = queue[head]
                head += 1
                if head > 1024, head * 2 > queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                condition.signal()
                condition.unlock()
                continuation.resume(returning: message)
            } else if finished || Task.isCancelled {
                condition.unlock()
                continuation.resume(returning: nil)
            } else {
                precondition(consumer == nil, "MQTTClient.messages supports one reader at a time")
                consumer = continuation
                condition.unlock()
            }
        }
    }

    /// Ends the stream: the reader gets what is queued, then nil; the network thread stops waiting.
    func finish() {
        condition.lock()
        finished = true
        let waiting = consumer
        consumer = nil
        condition.broadcast()
        condition.unlock()
        waiting?.resume(returning: nil)
    }

    private var count: Int { queue.count - head }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// The messages a client receives, in order, for one reader at a time.
public struct MQTTMessages: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage
    let buffer: InboundBuffer

    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: InboundBuffer
        public mutating func next() async -> MQTTMessage? { await buffer.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(buffer: buffer) }
}
