import CourierTesting
import Foundation
import MQTT
import Synchronization

/// Devices that keep sending echo requests until stopped, and the ledger a fault test checks:
/// every request the broker acknowledged (its PUBACK came back) must get a final reply, the
/// same one each time it arrives, and nothing may arrive that was not asked for.
final class ContinuousLoad: Sendable {
    let devices: [Device]
    private let acknowledged = Mutex<[String: Set<String>]>([:])
    private let stopping = Atomic<Bool>(false)
    private let running = Mutex<Task<Void, Never>?>(nil)

    private init(devices: [Device]) {
        self.devices = devices
    }

    /// Connects `count` devices (persistent sessions when `persistent`) and starts sending,
    /// each one request every `gap`.
    static func start(on broker: MosquittoBroker, devices count: Int, prefix: String, persistent: Bool = false, gap: Duration = .milliseconds(10)) async throws -> ContinuousLoad {
        var devices: [Device] = []
        for index in 0..<count {
            devices.append(try await Device.connect("\(prefix)-\(index)", to: broker, persistent: persistent))
        }
        let load = ContinuousLoad(devices: devices)
        let task = Task {
            await withDiscardingTaskGroup { group in
                for device in devices {
                    group.addTask { await load.send(from: device, gap: gap) }
                }
            }
        }
        load.running.withLock { $0 = task }
        return load
    }

    private func send(from device: Device, gap: Duration) async {
        var sequence = 0
        while !stopping.load(ordering: .relaxed) {
            sequence += 1
            let correlation = "\(device.id)/\(sequence)"
            // A publish the broker did not acknowledge (it is down), or acknowledged with "no
            // matching subscribers" (the bridge not yet back after a broker restart: mosquitto
            // does not restore shared subscriptions), promised nothing.
            if let ack = try? await device.ask("echo", Data(correlation.utf8), correlation: correlation), ack.isDelivered {
                acknowledged.withLock { _ = $0[device.id, default: []].insert(correlation) }
            }
            try? await Task.sleep(for: gap)
        }
    }

    /// Stops sending and waits until the senders are done.
    func stop() async {
        stopping.store(true, ordering: .relaxed)
        await running.withLock { $0 }?.value
    }

    /// Requests acknowledged so far.
    var acknowledgedCount: Int { acknowledged.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    /// Acknowledged requests with a final reply so far.
    var answeredCount: Int { devices.reduce(0) { $0 + answered(on: $1).count } }

    /// What went wrong, checked once every acknowledged request is answered: empty when every
    /// acknowledged request got a final reply (200 with its own payload, or 504), repeats of
    /// it identical, and nothing else arrived.
    func problems() -> [String] {
        var problems: [String] = []
        let asked = acknowledged.withLock { $0 }
        for device in devices {
            let mine = asked[device.id] ?? []
            var finals: [String: [MQTTMessage]] = [:]
            for message in device.replies.all {
                let correlation = String(decoding: message.properties.correlationData ?? Data(), as: UTF8.self)
                guard correlation.hasPrefix("\(device.id)/") else {
                    problems.append("\(device.id) got a reply it did not ask for: \(correlation)")
                    continue
                }
                if message.status != 202 { finals[correlation, default: []].append(message) }
            }
            for correlation in mine {
                guard let replies = finals[correlation], let first = replies.first else {
                    problems.append("\(correlation): acknowledged, never answered")
                    continue
                }
                if !(first.status == 200 && first.text == correlation) && first.status != 504 {
                    problems.append("\(correlation): \(first.status ?? 0) \(first.text)")
                }
                if replies.contains(where: { $0.status != first.status || $0.payload != first.payload }) {
                    problems.append("\(correlation): answered differently twice")
                }
            }
        }
        return problems
    }

    /// Asks once more, with the same correlation data, every acknowledged request that has no
    /// final reply yet: what a device does when its answer is late. A duplicate gets the
    /// stored reply (or 202 while in progress); a request the broker lost gets its first.
    func askAgainUnanswered() async {
        let asked = acknowledged.withLock { $0 }
        for device in devices {
            for correlation in (asked[device.id] ?? []).subtracting(answered(on: device)).sorted() {
                _ = try? await device.ask("echo", Data(correlation.utf8), correlation: correlation)
            }
        }
    }

    /// Whether every acknowledged request has a final reply.
    var everyAcknowledgedRequestIsAnswered: Bool {
        let asked = acknowledged.withLock { $0 }
        return devices.allSatisfy { device in (asked[device.id] ?? []).isSubset(of: answered(on: device)) }
    }

    /// How many final replies arrived for the same request more than once (identical repeats,
    /// which guarantee 1 allows after a crash).
    var repeatedReplies: Int {
        devices.reduce(0) { total, device in
            let finals = device.replies.all.filter { $0.status != 202 }
            return total + finals.count - Set(finals.map { $0.properties.correlationData ?? Data() }).count
        }
    }

    private func answered(on device: Device) -> Set<String> {
        Set(device.replies.all.filter { $0.status != 202 }.map { String(decoding: $0.properties.correlationData ?? Data(), as: UTF8.self) })
    }

    func shutdown() async {
        for device in devices { await device.shutdown() }
    }
}
