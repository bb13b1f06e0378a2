internal import CMosquitto
import Foundation

/// The Linux calls the event loop needs that Swift's `Glibc` module leaves out
/// (`<sys/epoll.h>`, `<sys/eventfd.h>`), from the system headers through the `CMosquitto`
/// shim, whose small C wrappers keep the packed `struct epoll_event` on the C side.
enum Epoll {
    static let input = EPOLLIN.rawValue
    static let output = EPOLLOUT.rawValue
    static let error = EPOLLERR.rawValue
    static let hangUp = EPOLLHUP.rawValue

    static let add = EPOLL_CTL_ADD
    static let remove = EPOLL_CTL_DEL
    static let modify = EPOLL_CTL_MOD

    /// `epoll_create1(EPOLL_CLOEXEC)`.
    static func create() -> Int32 { courier_epoll_create() }

    /// `eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)`.
    static func eventFD() -> Int32 { courier_eventfd() }

    /// `epoll_ctl` with an event whose data is `token`; returns 0 or -1 (errno set).
    static func control(_ epoll: Int32, _ operation: Int32, _ fd: Int32, events: UInt32, token: UInt64) -> Int32 {
        courier_epoll_ctl(epoll, operation, fd, events, token)
    }

    /// A buffer for `epoll_wait`'s events.
    struct Events: ~Copyable {
        let capacity: Int
        private let events: UnsafeMutableBufferPointer<UInt32>
        private let tokens: UnsafeMutableBufferPointer<UInt64>

        init(capacity: Int) {
            self.capacity = capacity
            events = .allocate(capacity: capacity)
            tokens = .allocate(capacity: capacity)
        }

        deinit {
            events.deallocate()
            tokens.deallocate()
        }

        /// `epoll_wait`; the number of events, or -1 (errno set).
        func wait(_ epoll: Int32, timeoutMilliseconds: Int32) -> Int32 {
            courier_epoll_wait(epoll, events.baseAddress, tokens.baseAddress, Int32(capacity), timeoutMilliseconds)
        }

        func events(at index: Int) -> UInt32 { events[index] }

        func token(at index: Int) -> UInt64 { tokens[index] }
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
