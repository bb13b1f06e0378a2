import Foundation

/// The few Linux calls the event loop needs that Swift's `Glibc` module leaves out:
/// `<sys/epoll.h>` and `<sys/eventfd.h>` are not part of it.
///
/// They are bound once, by name, through `dlsym` with their exact C signatures
/// (`@convention(c)`), so nothing here depends on Swift's calling convention. `struct
/// epoll_event` is handled as raw bytes because glibc packs it on x86-64 (12 bytes, `data` at
/// offset 4) and not elsewhere (16 bytes, `data` at offset 8). Constants are the kernel ABI's.
enum Epoll {
    static let input: UInt32 = 0x001  // EPOLLIN
    static let output: UInt32 = 0x004  // EPOLLOUT
    static let error: UInt32 = 0x008  // EPOLLERR
    static let hangUp: UInt32 = 0x010  // EPOLLHUP

    static let add: Int32 = 1  // EPOLL_CTL_ADD
    static let remove: Int32 = 2  // EPOLL_CTL_DEL
    static let modify: Int32 = 3  // EPOLL_CTL_MOD

    #if arch(x86_64)
    static let eventSize = 12
    static let dataOffset = 4
    #else
    static let eventSize = 16
    static let dataOffset = 8
    #endif

    private typealias CreateFunction = @convention(c) (Int32) -> Int32
    private typealias ControlFunction = @convention(c) (Int32, Int32, Int32, UnsafeMutableRawPointer?) -> Int32
    private typealias WaitFunction = @convention(c) (Int32, UnsafeMutableRawPointer?, Int32, Int32) -> Int32
    private typealias EventFDFunction = @convention(c) (UInt32, Int32) -> Int32

    private static func symbol<F>(_ name: String, as type: F.Type) -> F {
        guard let pointer = dlsym(dlopen(nil, RTLD_NOW), name) else {
            fatalError("libc has no \(name): the MQTT event loop needs Linux")
        }
        return unsafeBitCast(pointer, to: type)
    }

    private static let createFunction = symbol("epoll_create1", as: CreateFunction.self)
    private static let controlFunction = symbol("epoll_ctl", as: ControlFunction.self)
    private static let waitFunction = symbol("epoll_wait", as: WaitFunction.self)
    private static let eventFDFunction = symbol("eventfd", as: EventFDFunction.self)

    /// `epoll_create1(EPOLL_CLOEXEC)`.
    static func create() -> Int32 { createFunction(Int32(O_CLOEXEC)) }

    /// `eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)`.
    static func eventFD() -> Int32 { eventFDFunction(0, Int32(O_NONBLOCK | O_CLOEXEC)) }

    /// `epoll_ctl` with an event whose data is `token`; returns 0 or -1 (errno set).
    static func control(_ epoll: Int32, _ operation: Int32, _ fd: Int32, events: UInt32, token: UInt64) -> Int32 {
        withUnsafeTemporaryAllocation(byteCount: eventSize, alignment: 8) { buffer in
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            buffer.storeBytes(of: events, toByteOffset: 0, as: UInt32.self)
            buffer.storeBytes(of: token, toByteOffset: dataOffset, as: UInt64.self)
            return controlFunction(epoll, operation, fd, buffer.baseAddress)
        }
    }

    /// A buffer for `epoll_wait`'s events.
    struct Events: ~Copyable {
        let capacity: Int
        private let buffer: UnsafeMutableRawBufferPointer

        init(capacity: Int) {
            self.capacity = capacity
            buffer = .allocate(byteCount: capacity * Epoll.eventSize, alignment: 8)
        }

        deinit { buffer.deallocate() }

        /// `epoll_wait`; the number of events, or -1 (errno set).
        func wait(_ epoll: Int32, timeoutMilliseconds: Int32) -> Int32 {
            Epoll.waitFunction(epoll, buffer.baseAddress, Int32(capacity), timeoutMilliseconds)
        }

        func events(at index: Int) -> UInt32 {
            buffer.loadUnaligned(fromByteOffset: index * Epoll.eventSize, as: UInt32.self)
        }

        func token(at index: Int) -> UInt64 {
            buffer.loadUnaligned(fromByteOffset: index * Epoll.eventSize + Epoll.dataOffset, as: UInt64.self)
        }
    }
}

extension MQTTEventLoop {
    /// Raises this process's soft limit on open files (`RLIMIT_NOFILE`) to its hard limit and
    /// returns the soft limit in force afterwards. Each client on an event loop holds
    /// ``descriptorsPerClient`` descriptors.
    /// Called when an event loop starts; child processes started afterwards inherit the limit.
    @discardableResult
    public static func raiseOpenFileLimit() -> Int {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return -1 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > UInt(Int.max) ? Int.max : Int(limit.rlim_cur)
    }
}
