import CourierTesting
import MQTT
import Synchronization

/// Counts the messages a subscriber receives and when the last one arrived; fed from the
/// client's `onMessage` hook on the network thread.
final class ReceiptCounter: Sendable {
    private struct State {
        var count = 0
        var last: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let reachedTarget = ChangeSignal()
    private let target: Int

    /// A counter that wakes ``waitForAll(idleLimit:)`` once `target` messages arrived.
    init(target: Int) {
        self.target = target
    }

    /// The hook to give the subscribing client.
    var hook: MQTTClient.MessageHook {
        { [self] _ in record() }
    }

    /// Messages received so far.
    var count: Int { state.withLock { $0.count } }

    /// When the latest message arrived.
    var lastReceipt: ContinuousClock.Instant? { state.withLock { $0.last } }

    /// Waits until `target` messages arrived, or until none arrived for `idleLimit` (QoS 0
    /// messages can be lost); returns the count.
    @discardableResult
    func waitForAll(idleLimit: Duration = .seconds(2)) async -> Int {
        var seen = -1
        while true {
            let now = count
            if now >= target || now == seen { return now }
            seen = now
            try? await reachedTarget.wait("\(target) messages", within: idleLimit) { self.count >= self.target }
        }
    }

    private func record() {
        let now = ContinuousClock.now
        let count = state.withLock { state in
            state.count += 1
            state.last = now
            return state.count
        }
        if count == target { reachedTarget.notify() }
    }
}
