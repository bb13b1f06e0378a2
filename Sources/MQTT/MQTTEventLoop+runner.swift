internal import CMosquitto
internal import CSocketBuffers
import Foundation
import Logging

/// The loop thread of an ``MQTTEventLoop``. Made on that thread and confined to it: nothing
/// here is touched from anywhere else, so it needs no locks. Other threads reach it only
/// through the loop's inbox.
///
/// Descriptors are registered with epoll under a slot id, never looked up by number: when
/// libmosquitto closes a socket (a lost connection, a written DISCONNECT) the kernel drops it
/// from epoll by itself, and the number may come back at once for another client's socket.
/// So a slot never removes a descriptor it no longer owns, and an event for a slot that has
/// moved on is ignored.
final class EventLoopRunner {
    typealias Slot = MQTTEventLoop.Slot

    let loop: MQTTEventLoop
    let logger: Logger
    private let clock = ContinuousClock()
    private var slots: [UInt64: Slot] = [:]
    private var slotIDs: [ObjectIdentifier: UInt64] = [:]
    /// Detach requests for clients whose attach has not arrived yet.
    private var earlyRemovals: [ObjectIdentifier: [CheckedContinuation<Void, Never>]] = [:]
    private var backoff: [UInt64: ContinuousClock.Instant] = [:]
    /// The earliest instant in `backoff`, so that busy iterations need not scan it.
    private var nextReconnect: ContinuousClock.Instant?
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    /// Wake-up pairs detached from their clients, oldest first, each closed at its instant.
    private var detachedPairs: [(read: Int32, write: Int32, closeAt: ContinuousClock.Instant)] = []
    private var nextTick: ContinuousClock.Instant
    /// The buffers libmosquitto's reads and writes of the socket being serviced go through.
    private let reads: OpaquePointer
    private let writes: OpaquePointer

    static let tickInterval = Duration.seconds(1)
    /// The most times one readable event fills `reads` from the kernel (64 KiB each).
    static let refillsPerEvent: UInt32 = 16
    static let closeGrace = Duration.seconds(2)

    init(loop: MQTTEventLoop) {
        self.loop = loop
        logger = loop.logger
        nextTick = ContinuousClock.now + Self.tickInterval
        guard let reads = courier_socket_reads_create(), let writes = courier_socket_writes_create() else {
            fatalError("no memory for the MQTT socket buffers")
        }
        self.reads = reads
        self.writes = writes
    }

    deinit {
        courier_socket_reads_destroy(reads)
        courier_socket_writes_destroy(writes)
    }

    func run() {
        let events = Epoll.Events(capacity: 1024)
        while true {
            let count = events.wait(loop.epollFD, timeoutMilliseconds: timeout())
            if count < 0, errno != EINTR {
                logger.error("epoll_wait failed", metadata: ["mqtt.errno": "\(errno)"])
            }
            for index in 0..<max(0, Int(count)) {
                let token = events.token(at: index)
                if token == MQTTEventLoop.wakeToken {
                    var value: UInt64 = 0
                    _ = read(loop.wakeFD, &value, MemoryLayout<UInt64>.size)
                } else if let slot = slots[token] {
                    service(slot, events: events.events(at: index))
                }
            }
            takeInbox()
            let now = clock.now
            if now >= nextTick {
                tick(now)
                nextTick = now + Self.tickInterval
            }
            reconnectDue(now)
            closeDetachedPairs(now)
            if !stopWaiters.isEmpty, slots.isEmpty { break }
        }
        finish()
    }

    // MARK: Inbox

    private func takeInbox() {
        let (commands, writes) = loop.inbox.withLock { inbox in
            defer {
                inbox.commands = []
                inbox.writes = [:]
                inbox.signalled = false
            }
            // Every requester's, attached yet or not, before the writes below: a packet queued
            // after this asks again.
            for handle in inbox.writes.values {
                _ = handle.writeRequested.exchange(false, ordering: .acquiringAndReleasing)
            }
            return (inbox.commands, inbox.writes.keys)
        }
        for command in commands {
            switch command {
            case .add(let slot, let firstConnect): add(slot, firstConnect: firstConnect)
            case .remove(let handle, let done): remove(handle, done: done)
            case .connectFinished(let id, let code): connectFinished(id, code: code)
            case .stop(let done): stopWaiters.append(done)
            case .run(let work): work()
            }
        }
        for handle in writes {
            guard let id = slotIDs[handle], let slot = slots[id] else { continue }
            switch slot.phase {
            case .attached, .closing: afterIO(slot)
            case .connecting, .backoff, .idle: break
            }
        }
    }

    private func add(_ slot: Slot, firstConnect: CheckedContinuation<Int32, Never>) {
        let key = ObjectIdentifier(slot.handle)
        if let removals = earlyRemovals.removeValue(forKey: key) {
            // Shut down before it got here: it never connects. Success lets `connect()` go on
            // to find the client shut down.
            firstConnect.resume(returning: Mosquitto.success)
            slot.removals = removals
            slots[slot.id] = slot
            slotIDs[key] = slot.id
            destroy(slot)
            return
        }
        slots[slot.id] = slot
        slotIDs[key] = slot.id
        slot.firstConnect = firstConnect
        startConnect(slot, first: true)
    }

    private func remove(_ handle: ObjectIdentifier, done: CheckedContinuation<Void, Never>) {
        guard let id = slotIDs[handle], let slot = slots[id] else {
            earlyRemovals[handle, default: []].append(done)
            return
        }
        slot.removals.append(done)
        switch slot.phase {
        case .connecting, .closing:
            break  // finished when the connect returns, or when the DISCONNECT is out
        case .backoff, .idle:
            destroy(slot)
        case .attached:
            mosquitto_disconnect_v5(slot.mosq.value, 0, nil)
            slot.phase = .closing(deadline: clock.now + Self.closeGrace)
            afterIO(slot)
        }
    }

    // MARK: Connecting

    private func startConnect(_ slot: Slot, first: Bool) {
        slot.phase = .connecting
        let (handle, mosq) = (slot.handle, slot.mosq)
        loop.connect(slot: slot.id) {
            first ? handle.sendConnect(mosq.value) : mosquitto_reconnect(mosq.value)
        }
    }

    private func connectFinished(_ id: UInt64, code: Int32) {
        guard let slot = slots[id], case .connecting = slot.phase else { return }
        let first = slot.firstConnect
        slot.firstConnect = nil
        first?.resume(returning: code)
        if !slot.removals.isEmpty {
            destroy(slot)
            return
        }
        if code == Mosquitto.success {
            let fd = mosquitto_socket(slot.mosq.value)
            guard fd >= 0 else {
                lost(slot)
                return
            }
            slot.phase = .attached
            register(slot, fd: fd)
            detachWakePair(slot)
            afterIO(slot)
        } else if first != nil, !Self.isUnreachable(code) {
            // The handle reports this refusal from `connect()`; it shuts the client down.
            slot.phase = .idle
        } else {
            logger.debug("reconnect failed", metadata: ["mqtt.client": "\(slot.handle.configuration.clientID)", "mqtt.error": "\(Mosquitto.error(code))"])
            scheduleReconnect(slot)
        }
    }

    static func isUnreachable(_ code: Int32) -> Bool {
        code == Int32(MOSQ_ERR_ERRNO.rawValue) || code == Int32(MOSQ_ERR_EAI.rawValue) || code == Mosquitto.noConnection
    }

    private func scheduleReconnect(_ slot: Slot) {
        guard slot.handle.shouldReconnect else {
            slot.phase = .idle
            return
        }
        slot.attempts += 1
        let bounds = slot.handle.configuration.reconnectDelay
        // libmosquitto's own backoff: delay * attempts², capped; plus up to 25 % jitter.
        let base = max(Double(bounds.lowerBound), 0.1)
        let seconds = min(base * Double(slot.attempts * slot.attempts), max(Double(bounds.upperBound), base))
        let delay = Duration.milliseconds(Int64(seconds * Double.random(in: 1.0...1.25) * 1000))
        let due = clock.now + delay
        slot.phase = .backoff(until: due)
        backoff[slot.id] = due
        nextReconnect = min(nextReconnect ?? due, due)
    }

    private func reconnectDue(_ now: ContinuousClock.Instant) {
        guard let next = nextReconnect, next <= now else { return }
        for (id, due) in backoff where due <= now {
            backoff[id] = nil
            guard let slot = slots[id], case .backoff = slot.phase else { continue }
            startConnect(slot, first: false)
        }
        nextReconnect = backoff.values.min()
    }

    // MARK: I/O

    private func service(_ slot: Slot, events: UInt32) {
        switch slot.phase {
        case .attached, .closing: break
        case .connecting, .backoff, .idle: return  // an event for a socket the slot no longer has
        }
        let mosq = slot.mosq.value
        if events & (Epoll.input | Epoll.error | Epoll.hangUp) != 0 {
            // Reads what the socket holds (bounded), so that the batch hook then sees it all
            // before any PUBACK is written. libmosquitto's reads come from `reads`, which takes
            // up to 64 KiB from the kernel at a time, instead of three system calls a packet
            // (CSocketBuffers). It stops at `max_packets` or at an EAGAIN: called again until
            // the buffer is empty, as nothing else may read the socket.
            courier_socket_reads_begin(reads, slot.registeredFD, Self.refillsPerEvent)
            repeat {
                errno = 0  // libmosquitto checks errno after a packet: a stale EAGAIN stops it
                _ = mosquitto_loop_read(mosq, 1)
            } while mosquitto_socket(mosq) == slot.registeredFD && courier_socket_reads_pending(reads) > 0
            courier_socket_reads_end(reads)
            slot.handle.didFinishReading()
        }
        afterIO(slot)
    }

    /// After anything that may have read, queued or closed: writes what is queued, keeps the
    /// epoll interest in step, and notices a closed socket.
    private func afterIO(_ slot: Slot) {
        let mosq = slot.mosq.value
        if mosquitto_socket(mosq) == slot.registeredFD, slot.registeredFD >= 0, sendUnsent(slot), mosquitto_want_write(mosq) {
            // libmosquitto writes each packet with a `write` of its own; gathered in `writes`
            // (CSocketBuffers), a burst (the PUBACKs and replies of a batch) leaves in one
            // `send`, which spares both ends per-packet work (Benchmarks/README.md).
            courier_socket_writes_begin(writes, slot.registeredFD)
            _ = mosquitto_loop_write(mosq, 1)
            endWrites(slot)
        }
        let fd = mosquitto_socket(mosq)
        guard fd >= 0, fd == slot.registeredFD else {
            // libmosquitto closed the socket, which also took it out of epoll.
            slot.registeredFD = -1
            slot.watchesOutput = false
            slot.unsent = []
            lost(slot)
            return
        }
        let wantsOutput = !slot.unsent.isEmpty || mosquitto_want_write(mosq)
        if wantsOutput != slot.watchesOutput {
            slot.watchesOutput = wantsOutput
            let events = Epoll.input | (wantsOutput ? Epoll.output : 0)
            if Epoll.control(loop.epollFD, Epoll.modify, fd, events: events, token: slot.id) != 0 {
                logger.error("epoll_ctl MOD failed", metadata: ["mqtt.errno": "\(errno)"])
            }
        }
    }

    /// Takes libmosquitto's wake-up pair away from a client that has just connected (see
    /// `WakePair`); its descriptors are closed after a grace period. The first connect
    /// (`mosquitto_connect_bind_v5`) opens a new pair; a reconnect does not, and finds none.
    private func detachWakePair(_ slot: Slot) {
        guard let (read, write) = WakePair.detach(from: slot.mosq.value) else { return }
        detachedPairs.append((read, write, clock.now + WakePair.closeGrace))
    }

    private func closeDetachedPairs(_ now: ContinuousClock.Instant) {
        let due = detachedPairs.prefix { $0.closeAt <= now }.count
        guard due > 0 else { return }
        for pair in detachedPairs[..<due] {
            close(pair.read)
            close(pair.write)
        }
        detachedPairs.removeFirst(due)
    }

    private func register(_ slot: Slot, fd: Int32) {
        slot.registeredFD = fd
        slot.watchesOutput = false
        slot.unsent = []
        Self.closeOnExec(fd)
        if Epoll.control(loop.epollFD, Epoll.add, fd, events: Epoll.input, token: slot.id) != 0 {
            logger.error("epoll_ctl ADD failed", metadata: ["mqtt.errno": "\(errno)", "mqtt.client": "\(slot.handle.configuration.clientID)"])
        }
    }

    /// Sends what the kernel did not take last time, which goes before anything libmosquitto
    /// writes next. True when nothing is left.
    private func sendUnsent(_ slot: Slot) -> Bool {
        guard !slot.unsent.isEmpty else { return true }
        let sent = slot.unsent.withUnsafeBytes { bytes in
            send(slot.registeredFD, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        }
        if sent > 0 {
            slot.unsent.removeFirst(sent)
        } else if sent < 0, errno != EAGAIN, errno != EINTR {
            failWrites(slot)
        }
        return slot.unsent.isEmpty
    }

    /// Sends what libmosquitto wrote; keeps what the kernel did not take for `sendUnsent`.
    private func endWrites(_ slot: Slot) {
        let left = courier_socket_writes_end(writes)
        guard mosquitto_socket(slot.mosq.value) == slot.registeredFD else { return }
        if left > 0 {
            slot.unsent = Array(UnsafeBufferPointer(start: courier_socket_writes_unsent(writes), count: left))
        } else if left < 0 {
            failWrites(slot)
        }
    }

    /// The socket failed under bytes libmosquitto counts as written: it is shut down, so that
    /// libmosquitto's next read finds it closed and reconnects, resending what is unacknowledged.
    private func failWrites(_ slot: Slot) {
        slot.unsent = []
        _ = shutdown(slot.registeredFD, Int32(SHUT_RDWR))
    }

    /// libmosquitto opens its descriptors without FD_CLOEXEC: a child process started later
    /// (a broker, a daemon) would inherit them and hold connections open after we close them.
    static func closeOnExec(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0, flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
    }

    /// The connection is gone (the socket is closed).
    private func lost(_ slot: Slot) {
        if case .closing = slot.phase {
            destroy(slot)
        } else {
            scheduleReconnect(slot)
        }
    }

    private func tick(_ now: ContinuousClock.Instant) {
        for slot in Array(slots.values) {
            switch slot.phase {
            case .attached:
                _ = mosquitto_loop_misc(slot.mosq.value)
                if slot.handle.isConnected { slot.attempts = 0 }
                afterIO(slot)
            case .closing(let deadline):
                if now >= deadline { destroy(slot) }
            case .connecting, .backoff, .idle:
                break
            }
        }
    }

    private func timeout() -> Int32 {
        let next = min(nextTick, nextReconnect ?? nextTick, detachedPairs.first?.closeAt ?? nextTick)
        let wait = clock.now.duration(to: next)
        if wait <= .zero { return 0 }
        return Int32(clamping: wait.milliseconds + 1)
    }

    // MARK: Teardown

    private func destroy(_ slot: Slot) {
        let mosq = slot.mosq.value
        if slot.registeredFD >= 0, mosquitto_socket(mosq) == slot.registeredFD {
            _ = Epoll.control(loop.epollFD, Epoll.remove, slot.registeredFD, events: 0, token: slot.id)
        }
        mosquitto_destroy(mosq)
        let key = ObjectIdentifier(slot.handle)
        slots[slot.id] = nil
        slotIDs[key] = nil
        backoff[slot.id] = nil
        loop.inbox.withLock { _ = $0.members.removeValue(forKey: key) }
        let removals = slot.removals
        slot.removals = []
        for done in removals { done.resume() }
    }

    private func finish() {
        // Every one, now: no client is left to write to them.
        closeDetachedPairs(clock.now + WakePair.closeGrace)
        let leftovers: [MQTTEventLoop.Command] = loop.inbox.withLock { inbox in
            inbox.life = .stopped
            loop.closeDescriptors()
            defer { inbox.commands = [] }
            return inbox.commands
        }
        for command in leftovers {
            switch command {
            case .remove(_, let done), .stop(let done): done.resume()
            case .add(let slot, let firstConnect):
                // Refused by `attach` once stopping; kept for completeness.
                firstConnect.resume(returning: Mosquitto.success)
                mosquitto_destroy(slot.mosq.value)
            case .run(let work):
                // Work handed to the loop always runs, here as its last act: whoever posted it
                // may be waiting for it.
                work()
            case .connectFinished: break
            }
        }
        for waiters in earlyRemovals.values {
            for done in waiters { done.resume() }
        }
        for done in stopWaiters { done.resume() }
        logger.debug("event loop stopped")
    }
}
