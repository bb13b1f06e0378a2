import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A hand-written MQTT connection for what no libmosquitto client sends: a ``HostileMessage``
/// goes out byte for byte as it is (invalid UTF-8, wildcards in the topic name, empty strings,
/// a property twice...). Blocking, on plain sockets: use it from one thread (a serial
/// `DispatchQueue`), never from the concurrency pool.
///
/// Each ``send(_:)`` (re)connects when needed, writes one PUBLISH, and reads the broker's
/// answer: the PUBACK for QoS 1, the PINGRESP to a PINGREQ written after a QoS 0 one, or the
/// DISCONNECT and closed socket with which mosquitto answers a protocol violation.
final class WireConnection {
    enum Outcome: Sendable, Equatable {
        /// The broker acknowledged it (PUBACK reason code, or 0 for QoS 0 followed by a PINGRESP).
        case acknowledged(reason: Int)
        /// The broker closed the connection, with a DISCONNECT reason code (MQTT 5) or none.
        case disconnected(reason: Int?)
        /// No connection could be made, or the broker did not answer in time.
        case failed(String)
    }

    let host: String
    let port: Int
    let clientID: String
    let timeout: Duration
    private var socket: Int32 = -1
    private var connectedVersion: MQTTWireVersion?
    private var nextPacketID: UInt16 = 1
    /// Connections made so far.
    private(set) var connections = 0

    init(host: String, port: Int, clientID: String, timeout: Duration = .seconds(3)) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.timeout = timeout
    }

    /// Closes the socket; the next ``send(_:)`` connects again.
    func close() {
        if socket >= 0 { Glibc.close(socket) }
        socket = -1
        connectedVersion = nil
    }

    /// Sends one message; blocks until the broker answered, closed the connection, or the
    /// timeout passed.
    func send(_ message: HostileMessage) -> Outcome {
        let version: MQTTWireVersion = message.protocolVersion == .v5 ? .v5 : .v311
        if connectedVersion != version {
            close()
            if let failure = connect(version) { return .failed(failure) }
        }
        let packetID = nextPacketID
        nextPacketID = nextPacketID == UInt16.max ? 1 : nextPacketID + 1
        var packet = MQTTWire.publish(message, packetID: packetID, version: version)
        if message.qos == .atMostOnce { packet += MQTTWire.pingRequest }
        guard write(packet) else {
            close()
            return .disconnected(reason: nil)
        }
        while true {
            switch readPacket() {
            case .packet(let type, let body):
                switch type {
                case 0x40 where message.qos == .atLeastOnce:
                    // PUBACK: packet id, then (MQTT 5) a reason code when it is not 0.
                    return .acknowledged(reason: body.count > 2 ? Int(body[body.startIndex + 2]) : 0)
                case 0xD0 where message.qos == .atMostOnce:
                    return .acknowledged(reason: 0)
                case 0xE0:
                    close()
                    return .disconnected(reason: body.first.map(Int.init))
                default:
                    continue  // a PINGRESP or PUBACK of an earlier message
                }
            case .closed:
                close()
                return .disconnected(reason: nil)
            case .timedOut:
                close()
                return .failed("no answer within \(timeout)")
            }
        }
    }

    // MARK: Socket

    /// Connects and sends CONNECT; nil on success, else what went wrong.
    private func connect(_ version: MQTTWireVersion) -> String? {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, "\(port)", &hints, &list) == 0, let address = list else { return "cannot resolve \(host)" }
        defer { freeaddrinfo(list) }
        let fd = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
        guard fd >= 0 else { return "socket: \(String(cString: strerror(errno)))" }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let (seconds, attoseconds) = timeout.components
        var interval = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        guard Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            return "connect \(host):\(port): \(message)"
        }
        socket = fd
        connections += 1
        guard write(MQTTWire.connect(clientID: clientID, version: version)) else {
            close()
            return "CONNECT not written"
        }
        switch readPacket() {
        case .packet(0x20, let body) where body.count >= 2 && body[body.startIndex + 1] == 0:
            connectedVersion = version
            return nil
        case .packet(let type, let body):
            close()
            return "refused: packet \(String(type, radix: 16)) \(Array(body.prefix(4)))"
        case .closed:
            close()
            return "closed before CONNACK"
        case .timedOut:
            close()
            return "no CONNACK within \(timeout)"
        }
    }

    private func write(_ data: Data) -> Bool {
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.send(socket, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { return false }
                offset += written
            }
            return true
        }
    }

    private enum Read {
        case packet(UInt8, Data)
        case closed
        case timedOut
    }

    private func readPacket() -> Read {
        guard let first = readBytes(1) else { return lastReadTimedOut ? .timedOut : .closed }
        var length = 0
        var multiplier = 1
        for _ in 0..<4 {
            guard let byte = readBytes(1) else { return lastReadTimedOut ? .timedOut : .closed }
            length += Int(byte[byte.startIndex] & 0x7F) * multiplier
            if byte[byte.startIndex] & 0x80 == 0 { break }
            multiplier *= 128
        }
        guard let body = length == 0 ? Data() : readBytes(length) else { return lastReadTimedOut ? .timedOut : .closed }
        return .packet(first[first.startIndex] & 0xF0, body)
    }

    private var lastReadTimedOut = false

    private func readBytes(_ count: Int) -> Data? {
        var data = Data(count: count)
        var offset = 0
        lastReadTimedOut = false
        while offset < count {
            let read = data.withUnsafeMutableBytes { buffer in Glibc.recv(socket, buffer.baseAddress! + offset, count - offset, 0) }
            if read < 0, errno == EINTR { continue }
            if read < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                lastReadTimedOut = true
                return nil
            }
            guard read > 0 else { return nil }
            offset += read
        }
        return data
    }
}

enum MQTTWireVersion {
    case v5
    case v311
}

/// MQTT packets, encoded by hand (MQTT 5.0 and 3.1.1, sections 2 and 3).
enum MQTTWire {
    static let pingRequest = Data([0xC0, 0x00])

    static func connect(clientID: String, version: MQTTWireVersion) -> Data {
        var body = string(Data("MQTT".utf8))
        body.append(version == .v5 ? 5 : 4)
        body.append(0x02)  // clean start
        body += uint16(60)  // keep alive
        if version == .v5 { body += variableInteger(0) }  // no properties
        body += string(Data(clientID.utf8))
        return packet(0x10, body)
    }

    static func publish(_ message: HostileMessage, packetID: UInt16, version: MQTTWireVersion) -> Data {
        var body = string(message.topic)
        if message.qos == .atLeastOnce { body += uint16(packetID) }
        if version == .v5 {
            let encoded = properties(message.properties)
            body += variableInteger(encoded.count)
            body += encoded
        }
        body += message.payload
        return packet(0x30 | UInt8(message.qos.rawValue << 1), body)
    }

    static func properties(_ properties: [HostileMessage.Property]) -> Data {
        var data = Data()
        for property in properties {
            switch property {
            case .payloadFormatIndicator(let value): data += [0x01, value]
            case .messageExpiry(let value):
                data.append(0x02)
                data += withUnsafeBytes(of: value.bigEndian) { Data($0) }
            case .contentType(let bytes):
                data.append(0x03)
                data += string(bytes)
            case .responseTopic(let bytes):
                data.append(0x08)
                data += string(bytes)
            case .correlationData(let bytes):
                data.append(0x09)
                data += string(bytes)
            case .userProperty(let name, let value):
                data.append(0x26)
                data += string(name)
                data += string(value)
            case .raw(let identifier, let bytes):
                data.append(identifier)
                data += bytes
            }
        }
        return data
    }

    /// A two-byte length and the bytes (at most 65,535 of them).
    static func string(_ bytes: Data) -> Data {
        uint16(UInt16(min(bytes.count, Int(UInt16.max)))) + bytes.prefix(Int(UInt16.max))
    }

    static func uint16(_ value: UInt16) -> Data { Data([UInt8(value >> 8), UInt8(value & 0xFF)]) }

    static func variableInteger(_ value: Int) -> Data {
        var data = Data()
        var rest = value
        repeat {
            var byte = UInt8(rest % 128)
            rest /= 128
            if rest > 0 { byte |= 0x80 }
            data.append(byte)
        } while rest > 0
        return data
    }

    static func packet(_ type: UInt8, _ body: Data) -> Data {
        var data = Data([type])
        data += variableInteger(body.count)
        data += body
        return data
    }
}
