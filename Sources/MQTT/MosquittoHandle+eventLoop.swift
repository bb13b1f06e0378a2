internal import CMosquitto

extension MosquittoHandle {
    /// Hands a configured client to an event loop, which connects it (off the loop thread)
    /// and drives it from then on. Mirrors the threaded start: an unreachable broker is retried,
    /// any other connect error is thrown.
    func start(on eventLoop: MQTTEventLoop, _ mosq: OpaquePointer) async throws(MQTTError) {
        // Publishes come from other threads while the loop thread reads and writes: with this
        // set, libmosquitto locks and leaves every socket write to the loop.
        try Mosquitto.check(mosquitto_threaded_set(mosq, true))
        let handedOver = state.withLock { state -> Bool in
            if case .shutDown = state.phase { return false }
            state.onEventLoop = true
            return true
        }
        guard handedOver else { throw .shutdown }
        let code: Int32
        do {
            code = try await eventLoop.attach(self, Pointer(mosq))
        } catch {
            state.withLock { $0.onEventLoop = false }
            throw error
        }
        switch code {
        case Mosquitto.success:
            break
        case _ where EventLoopRunner.isUnreachable(code):
            // Unreachable for now: the event loop keeps trying with backoff.
            logger.warning(
                "broker \(configuration.host):\(configuration.port) unreachable, retrying",
                metadata: ["mqtt.error": "\(Mosquitto.error(code))"]
            )
        default:
            throw Mosquitto.error(code)
        }
    }

    /// Opens the TCP connection and queues CONNECT, with the CONNECT properties. Blocks for
    /// the TCP handshake: the event loop calls it on its connector, never on the loop thread.
    func sendConnect(_ mosq: OpaquePointer) -> Int32 {
        let config = configuration
        let isV5 = config.protocolVersion == .v5
        guard let properties = try? OutgoingProperties(sessionExpiry: config.sessionExpiry, receiveMaximum: config.receiveMaximum) else {
            return Int32(MOSQ_ERR_NOMEM.rawValue)
        }
        return mosquitto_connect_bind_v5(mosq, config.host, Int32(config.port), Int32(config.keepAlive), nil, isV5 ? properties.list : nil)
    }

    /// Whether a dropped connection should be opened again: not after a refusal or shutdown.
    var shouldReconnect: Bool {
        state.withLock { state in
            switch state.phase {
            case .refused, .shutDown: false
            case .idle, .connecting, .connected, .reconnecting: true
            }
        }
    }
}
