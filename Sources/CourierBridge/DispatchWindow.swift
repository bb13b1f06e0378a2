import Synchronization

/// At most `size` attempts handed to the MQTT client at once; the others wait here, by request
/// id only (the store has the rest), first in first out, and go as places free up.
///
/// Without it a burst of requests (or a worker that holds them) would queue every attempt in
/// libmosquitto, message, properties and completion all in memory, until the broker's Receive
/// Maximum let each out: 100,000 pending requests held 50,000 there, over 200 MB, and left the
/// rest to their attempt timers.
final class DispatchWindow: Sendable {
    private struct State {
        var inFlight = 0
        var waiting: [String] = []
        var head = 0
        var queued: Set<String> = []
    }

    let size: Int
    private let state = Mutex(State())

    init(size: Int) {
        self.size = max(1, size)
    }

    /// True when the attempt may go now (it then holds a place until ``release()``); false when
    /// it waits (or already waits) for one.
    func admit(_ id: String) -> Bool {
        state.withLock { state in
            if state.inFlight < size, state.head == state.waiting.count {
                state.inFlight += 1
                return true
            }
            if state.queued.insert(id).inserted { state.waiting.append(id) }
            return false
        }
    }

    /// Gives back a place; returns the next waiting request, which takes it over, if any.
    func release() -> String? {
        state.withLock { state in
            guard state.head < state.waiting.count else {
                state.inFlight -= 1
                return nil
            }
            let next = state.waiting[state.head]
            state.head += 1
            state.queued.remove(next)
            if state.head > 1024, state.head * 2 > state.waiting.count {
                state.waiting.removeFirst(state.head)
                state.head = 0
            }
            return next
        }
    }

    /// Attempts waiting for a place.
    var waiting: Int { state.withLock { $0.waiting.count - $0.head } }
}
