internal import CMosquitto
import Foundation
import Logging
import Synchronization

/// One network thread, on epoll, that drives any number of ``MQTTClient``s.
///
/// A client whose ``MQTTConfiguration/eventLoop`` is set runs on that loop, so one process can
/// hold thousands of connections (a device simulator, a load generator); any other client gets
/// a loop of its own. (libmosquitto's own threaded loop is never used: it is built on
/// `select()`, which cannot watch a descriptor numbered 1024 or above, and its thread stops
/// for good on one, leaving every wait on that client unanswered.) The loop:
///
/// - the loop reads (`mosquitto_loop_read`) when a socket is readable, writes
///   (`mosquitto_loop_write`) whenever libmosquitto has something queued, and runs
///   `mosquitto_loop_misc` (keep-alive) about once a second for every client;
/// - a publish or subscribe from any thread queues its packet and wakes the loop (an eventfd),
///   so it goes out at once;
/// - connecting and reconnecting (`mosquitto_connect_bind_v5`, `mosquitto_reconnect`), which
///   block for a TCP handshake, run on a few connector queues, never on the loop thread; a
///   dropped client is reconnected with the exponential backoff of
///   ``MQTTConfiguration/reconnectDelay`` (with some jitter, so thousands of clients do not
///   return all at once) and re-subscribes as usual;
/// - libmosquitto's own per-client wake-up socket pair, which only its `select()` loop reads,
///   is taken away from the client and closed once it has connected (see `WakePair`).
///
/// So each client holds one descriptor, its socket (see ``descriptorsPerClient``), and two
/// more for a moment while it connects.
///
/// A client behaves the same on either loop, except that its callbacks (the `onMessage` and
/// `onConnect` hooks among them) run on this loop's thread, shared by every client on it: a
/// hook that blocks, or a full ``MQTTClient/messages`` buffer waiting for room (see
/// ``MQTTConfiguration/inboundOverflowWait``), stalls all of them.
///
/// The thread starts with the first client and raises the process's open-file limit to its
/// hard limit (see ``raiseOpenFileLimit()``). Call ``shutdown()`` when done: it shuts down every
/// client still on the loop, then stops the thread.
public final class MQTTEventLoop: Sendable {
    enum LifeState {
        case idle
        case running
        case stopping
        case stopped
    }

    enum Command {
        case add(Slot, CheckedContinuation<Int32, Never>)
        case remove(ObjectIdentifier, CheckedContinuation<Void, Never>)
        case connectFinished(UInt64, Int32)
        case stop(CheckedContinuation<Void, Never>)
        case run(@Sendable () -> Void)
    }

    /// What other threads hand to the loop thread, under one lock.
    struct Inbox {
        var life = LifeState.idle
        var commands: [Command] = []
        /// Clients that queued a packet since the loop last looked.
        var writes: [ObjectIdentifier: MosquittoHandle] = [:]
        /// True while the eventfd has been signalled and the loop has not yet taken the inbox.
        var signalled = false
        /// Every client on the loop, from ``attach(_:_:)`` until it is destroyed.
        var members: [ObjectIdentifier: MosquittoHandle] = [:]
        var nextSlotID: UInt64 = 1
    }

    /// One client as the loop sees it.
    ///
    /// `@unchecked Sendable`: a slot is made by ``attach(_:_:)`` and handed to the loop thread
    /// through the inbox lock; from then on only the loop thread reads or writes its fields.
    final class Slot: @unchecked Sendable {
        enum Phase {
            /// A connect or reconnect runs on the connector; the loop does not touch `mosq`.
            case connecting
            /// The socket is registered with epoll.
            case attached
            /// Waiting to reconnect.
            case backoff(until: ContinuousClock.Instant)
            /// Refused by the broker: not reconnected, kept until the client shuts down.
            case idle
            /// DISCONNECT queued at shutdown; destroyed once it is written or at the deadline.
            case closing(deadline: ContinuousClock.Instant)
        }

        let id: UInt64
        let handle: MosquittoHandle
        let mosq: Pointer
        var phase = Phase.connecting
        /// The descriptor registered with epoll, or -1.
        var registeredFD: Int32 = -1
        var watchesOutput = false
        /// Bytes libmosquitto wrote that the kernel has not taken yet (its buffer was full).
        var unsent: [UInt8] = []
        /// Consecutive reconnect attempts since the last accepted CONNACK.
        var attempts = 0
        var firstConnect: CheckedContinuation<Int32, Never>?
        var removals: [CheckedContinuation<Void, Never>] = []

        init(id: UInt64, handle: MosquittoHandle, mosq: Pointer) {
            self.id = id
            self.handle = handle
            self.mosq = mosq
        }
    }

    /// The epoll token of the wake-up eventfd; client slots count from 1.
    static let wakeToken: UInt64 = 0

    public let label: String
    let logger: Logger
    let epollFD: Int32
    let wakeFD: Int32
    let inbox = Mutex(Inbox())
    /// Run the blocking connects and reconnects, off the loop thread. Serial queues, so that
    /// each gets a thread of its own when it has work (libdispatch's shared pool, which tasks
    /// also run on, is never blocked by a TCP handshake).
    let connectors: [DispatchQueue]

    /// Creates an event loop; its thread starts with the first client.
    public init(label: String = "mqtt-event-loop", logger: Logger) throws(MQTTError) {
        self.label = label
        var logger = logger
        logger[metadataKey: "mqtt.loop"] = "\(label)"
        self.logger = logger
        let epollFD = Epoll.create()
        guard epollFD >= 0 else { throw .library(code: Int(errno), message: "epoll_create1: \(String(cString: strerror(errno)))") }
        let wakeFD = Epoll.eventFD()
        guard wakeFD >= 0 else {
            close(epollFD)
            throw .library(code: Int(errno), message: "eventfd: \(String(cString: strerror(errno)))")
        }
        guard Epoll.control(epollFD, Epoll.add, wakeFD, events: Epoll.input, token: Self.wakeToken) == 0 else {
            close(epollFD)
            close(wakeFD)
            throw .library(code: Int(errno), message: "epoll_ctl: \(String(cString: strerror(errno)))")
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        connectors = (0..<Self.connectorCount).map { DispatchQueue(label: "\(label).connector-\($0)") }
    }

    /// Runs `work` on the loop thread, soon, between its reads and writes: work that publishes
    /// there has its packets written in the same pass. `work` must not block for long. Work
    /// posted before ``shutdown()`` runs, at the latest as the loop stops; work posted after
    /// it never does.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        post(.run(work))
    }

    /// How many clients are on the loop.
    public var clientCount: Int { inbox.withLock { $0.members.count } }

    /// Descriptors each connected client on an event loop holds: its socket, plus
    /// libmosquitto's wake-up pair where this libmosquitto's layout is not known (see
    /// `WakePair`). For sizing the open-file limit with ``raiseOpenFileLimit()``.
    public static var descriptorsPerClient: Int { WakePair.layoutKnown ? 1 : 3 }

    /// Shuts down every client still on the loop (as ``MQTTClient/shutdown()`` does), then
    /// stops the thread. A client that connects afterwards fails with ``MQTTError/shutdown``.
    /// Safe to call more than once.
    public func shutdown() async {
        enum Outcome { case neverStarted, started, alreadyStopping }
        let (members, outcome): ([MosquittoHandle], Outcome) = inbox.withLock { inbox in
            switch inbox.life {
            case .idle:
                inbox.life = .stopped
                return ([], .neverStarted)
            case .running:
                inbox.life = .stopping
                return (Array(inbox.members.values), .started)
            case .stopping, .stopped:
                return ([], .alreadyStopping)
            }
        }
        switch outcome {
        case .alreadyStopping:
            return
        case .neverStarted:
            closeDescriptors()
            return
        case .started:
            break
        }
        await withTaskGroup(of: Void.self) { group in
            for member in members {
                group.addTask { await member.shutdown() }
            }
        }
        // The loop thread answers once every slot is gone, then exits.
        await withCheckedContinuation { (stopped: CheckedContinuation<Void, Never>) in
            post(.stop(stopped))
        }
    }

    // MARK: Used by MosquittoHandle

    /// Takes a configured, not yet connected client: the first connect runs on the connector,
    /// and the loop drives the client from then on, until ``detach(_:)``. Returns the first
    /// connect's libmosquitto code (unreachable brokers are retried by the loop meanwhile).
    /// Throws ``MQTTError/shutdown`` when the loop was shut down; the client is not taken then.
    func attach(_ handle: MosquittoHandle, _ mosq: Pointer) async throws(MQTTError) -> Int32 {
        let code = await withCheckedContinuation { (outcome: CheckedContinuation<Int32, Never>) in
            let (accepted, startThread) = inbox.withLock { inbox -> (Bool, Bool) in
                var startThread = false
                switch inbox.life {
                case .stopping, .stopped: return (false, false)
                case .idle:
                    inbox.life = .running
                    startThread = true
                case .running: break
                }
                inbox.members[ObjectIdentifier(handle)] = handle
                inbox.commands.append(.add(Slot(id: inbox.nextSlotID, handle: handle, mosq: mosq), outcome))
                inbox.nextSlotID += 1
                return (true, startThread)
            }
            guard accepted else {
                outcome.resume(returning: Self.refused)
                return
            }
            if startThread { startLoopThread() }
            signal()
        }
        if code == Self.refused { throw .shutdown }
        return code
    }

    /// How many connects and reconnects may block at once.
    static let connectorCount = 4

    /// Runs a blocking connect for the client in `slot` on one of the connector queues.
    func connect(slot id: UInt64, _ work: @escaping @Sendable () -> Int32) {
        connectors[Int(id % UInt64(connectors.count))].async { [self] in
            let code = work()
            post(.connectFinished(id, code))
        }
    }

    /// What ``attach(_:_:)`` gets when the loop no longer takes clients.
    private static let refused = Int32.min

    /// Disconnects and destroys a client taken by ``attach(_:_:)``, on the loop thread;
    /// returns when libmosquitto can no longer call back into it.
    func detach(_ handle: MosquittoHandle) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let running = inbox.withLock { inbox -> Bool in
                if case .stopped = inbox.life { return false }
                inbox.commands.append(.remove(ObjectIdentifier(handle), done))
                return true
            }
            if running { signal() } else { done.resume() }
        }
    }

    /// Tells the loop that a client queued a packet (publish, subscribe...) from another thread.
    /// Once per pass of the loop: until the loop takes the request (and clears the flag, before
    /// it writes), later packets ride along without taking the inbox lock, which publishing
    /// threads and the loop thread otherwise contend for at every publish.
    func wantsWrite(_ handle: MosquittoHandle) {
        guard !handle.writeRequested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        inbox.withLock { inbox in
            inbox.writes[ObjectIdentifier(handle)] = handle
            wake(&inbox)
        }
    }

    /// Hands a command to the loop thread.
    func post(_ command: Command) {
        inbox.withLock { inbox in
            inbox.commands.append(command)
            wake(&inbox)
        }
    }

    private func signal() {
        inbox.withLock { wake(&$0) }
    }

    /// Signals the eventfd, once until the loop takes the inbox. Called with the inbox locked:
    /// the loop closes the eventfd under the same lock, so a late caller can never write to a
    /// descriptor number that has since been reused.
    private func wake(_ inbox: inout Inbox) {
        guard !inbox.signalled, inbox.life != .stopped else { return }
        inbox.signalled = true
        var one: UInt64 = 1
        _ = write(wakeFD, &one, MemoryLayout<UInt64>.size)
    }

    /// Closes the epoll and eventfd descriptors; called once the loop is `.stopped`, with the
    /// inbox locked or when no thread ever started.
    func closeDescriptors() {
        close(epollFD)
        close(wakeFD)
    }

    private func startLoopThread() {
        let thread = Thread { [self] in
            // Set from the thread itself, so that the kernel knows it too (top -H, perf).
            Thread.current.name = label
            let limit = Self.raiseOpenFileLimit()
            logger.debug("event loop started", metadata: ["mqtt.open_file_limit": "\(limit)"])
            let runner = EventLoopRunner(loop: self)
            runner.run()
        }
        thread.start()
    }
}
