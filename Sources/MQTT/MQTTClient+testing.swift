internal import CMosquitto
import Foundation

extension MQTTClient {
    /// Cuts the TCP connection under libmosquitto, as a crash or a network failure would: no
    /// DISCONNECT is sent, so the broker publishes the Will and keeps unacknowledged messages.
    func breakConnectionForTesting() {
        handle.withSocket { fd in _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// The value of a TCP-level option (`TCP_NODELAY`) on the client's socket.
    func tcpOptionForTesting(_ option: Int32) -> Int32 {
        var value: Int32 = -1
        handle.withSocket { fd in
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, Int32(IPPROTO_TCP), option, &value, &length)
        }
        return value
    }
}

extension MosquittoHandle {
    func withSocket(_ body: (Int32) -> Void) {
        guard let (mosq, _) = try? state.withLock({ state throws(MQTTError) in try Self.live(state) }) else { return }
        let fd = mosquitto_socket(mosq)
        if fd >= 0 { body(fd) }
    }
}
