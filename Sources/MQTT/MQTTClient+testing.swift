internal import CMosquitto
import Foundation

extension MQTTClient {
    /// Cuts the TCP connection under libmosquitto, as a crash or a network failure would: no
    /// DISCONNECT is sent, so the broker publishes the Will and keeps unacknowledged messages.
    func breakConnectionForTesting() {
        handle.withSocket { fd in _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// Whether TCP_NODELAY is set on the client's socket.
    func noDelayForTesting() -> Bool {
        var enabled: Int32 = 0
        handle.withSocket { fd in
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &enabled, &length)
        }
        return enabled != 0
    }
}

extension MosquittoHandle {
    func withSocket(_ body: (Int32) -> Void) {
        guard let (mosq, _) = try? state.withLock({ state throws(MQTTError) in try Self.live(state) }) else { return }
        let fd = mosquitto_socket(mosq)
        if fd >= 0 { body(fd) }
    }
}
