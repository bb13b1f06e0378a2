import CourierEngine
import Synchronization

/// Requests received and not yet recorded, from every way in (devices, HTTP, replays), taken
/// by the network thread for one group commit. Closed when the bridge stops.
final class InboundQueue: Sendable {
    struct Item: Sendable {
        var arrival: Arrival
        /// Where the caller's answer goes; nil for a device, answered over MQTT.
        var respond: (@Sendable (SubmitOutcome) -> Void)?
    }

    private struct State {
        var items: [Item] = []
        var closed = false
    }

    private let state = Mutex(State())

    /// Queues an item; false once closed.
    func append(_ item: Item) -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            state.items.append(item)
            return true
        }
    }

    /// Everything queued, in arrival order.
    func take() -> [Item] {
        state.withLock { state in
            defer { state.items = [] }
            return state.items
        }
    }

    /// Runs `body` unless closed, with closing held off meanwhile; false when closed.
    func whileOpen(_ body: () -> Void) -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            body()
            return true
        }
    }

    /// Refuses new items; callers still waiting are answered 503.
    func close() {
        let left = state.withLock { state in
            state.closed = true
            defer { state.items = [] }
            return state.items
        }
        for item in left { item.respond?(.refused(.unavailable, message: "the bridge is stopping")) }
    }
}
