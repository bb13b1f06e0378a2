import CourierProcess
import CourierTestTraits
import CourierTesting
import Foundation
import MQTT
import Testing

/// Faults with real processes: each test asserts that every request the broker acknowledged
/// gets exactly one final reply (identical repeats only after a crash, as guarantee 1 allows)
/// and that service resumes on its own.
@Suite(.timeLimit(.minutes(3)))
struct FaultMatrixTests {
    // MARK: Crashes

    @Test(.heavyLoad)
    func theBridgeKilledTenTimesUnderLoadAnswersEveryAcknowledgedRequest() async throws {
        try await withBroker(persistence: true) { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-kills-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker, limits: "  maxPendingPerDevice: 1000")
            var serve = try await CourierDaemon.start(["serve", "--config", config], readyLine: "bridge started", directory: directory)
            let load = try await ContinuousLoad.start(on: broker, devices: 10, prefix: "kill")
            for _ in 0..<10 {
                // Serving again before each kill: replies flow.
                let answered = load.answeredCount
                try await eventually("replies flow", within: .seconds(30)) { load.answeredCount >= answered + 20 }
                await serve.kill()
                serve = try await CourierDaemon.start(["serve", "--config", config], readyLine: "bridge started", directory: directory)
            }
            await load.stop()
            try await eventually("every acknowledged request answered", within: .seconds(60)) { load.everyAcknowledgedRequestIsAnswered }
            #expect(load.problems() == [])
            #expect(load.acknowledgedCount > 200)
            #expect(serve.isRunning)
            await load.shutdown()
            #expect(await serve.stop() == 0)
        }
    }

    /// The broker, not the bridge, is killed. Mosquitto saves its state after the change that
    /// needs it, not before the PUBACK that promises it, so a SIGKILL can lose a request it
    /// had acknowledged to a device but not yet handed to the bridge (or a reply it had
    /// acknowledged to the bridge). Courier never saw such a request; the devices' remedy is to
    /// ask again with the same correlation data, as they do here for what is still unanswered
    /// once the load stops. Then every acknowledged request has one answer, repeats identical.
    @Test
    func aBrokerKilledAndRestartedUnderLoadLosesNoAcknowledgedRequest() async throws {
        // Saved after every change, so the window for such a loss is small.
        try await withBroker(extraConfig: "autosave_interval 1\nautosave_on_changes true", persistence: true) { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-broker-kill-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker, limits: "  maxPendingPerDevice: 1000")
            let serve = try await CourierDaemon.start(["serve", "--config", config], readyLine: "bridge started", directory: directory)
            let load = try await ContinuousLoad.start(on: broker, devices: 5, prefix: "bkill", persistent: true, gap: .milliseconds(20))
            try await eventually("replies flow", within: .seconds(30)) { load.answeredCount >= 50 }
            await broker.kill()
            try await broker.restart()
            let answered = load.answeredCount
            try await eventually("replies flow again", within: .seconds(30)) { load.answeredCount >= answered + 50 }
            await load.stop()
            try? await eventually("every acknowledged request answered", within: .seconds(20)) { load.everyAcknowledgedRequestIsAnswered }
            await load.askAgainUnanswered()
            try? await eventually("every acknowledged request answered", within: .seconds(40)) { load.everyAcknowledgedRequestIsAnswered }
            #expect(load.problems() == [])
            #expect(serve.isRunning)
            await load.shutdown()
            #expect(await serve.stop() == 0)
        }
    }

    // MARK: The store's disk

    /// A store on a small tmpfs that the test fills, then frees: new requests are refused 503
    /// `unavailable` (never lost silently), a request accepted before keeps its reply, and
    /// service resumes when space returns.
    @Test(.enabled(if: getuid() == 0, "mounts a tmpfs"))
    func aFullDiskRefusesNewRequestsAndServiceResumesWhenSpaceReturns() async throws {
        try await withStoreMount { mount in
            let holdEarly: FakeWorker.Policy = { $0.message.text == "early" ? nil : (200, $0.message.payload) }
            try await BridgeFixture.with(store: mount.appendingPathComponent("courier.sqlite").path, operations: BridgeFixture.unhurried, policy: holdEarly) { fixture in
                let device = try await Device.connect("full", to: fixture.broker)
                // Accepted before the disk fills, held by the worker meanwhile.
                try await device.ask("echo", Data("early".utf8), correlation: "early")
                _ = try await fixture.worker.received.wait(for: 1) { $0.topic == "courier/work/echo" }

                let filler = try fill(mount)
                let (refused, sent) = try await firstRefusal(device, prefix: "full")
                #expect(refused.errorCode == "unavailable", "\(refused.text)")
                #expect(fixture.bridge.isRunning)

                try FileManager.default.removeItem(at: filler)
                fixture.worker.setPolicy(FakeWorker.echo)
                try await fixture.worker.releaseHeld()
                try await expectEveryOneAnswered(device, sent)
                let early = try await device.reply(to: "early", within: .seconds(30))
                #expect(early.status == 200 && early.text == "early")
                try await device.ask("echo", Data("after".utf8), correlation: "after")
                let after = try await device.reply(to: "after")
                #expect(after.status == 200 && after.text == "after")
                await device.shutdown()
            }
        }
    }

    /// A store whose filesystem turns read-only under the bridge (ext4's errors=remount-ro,
    /// triggered, as a failing disk does): new requests are refused 503 `unavailable` and the
    /// bridge stays up; once the operator has repaired the filesystem and restarted it, service
    /// resumes. (What SQLite had not yet synced when the disk failed is as lost as after a power
    /// cut: the store syncs at checkpoints, see guarantee 1.)
    @Test(.enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/sbin/mkfs.ext4"), "mounts an ext4 image"))
    func aStoreTurnedReadOnlyRefusesNewRequestsAndServiceResumesAfterRepair() async throws {
        try await withExt4Mount { mount in
            try await BridgeFixture.with(store: mount.directory.appendingPathComponent("courier.sqlite").path) { fixture in
                let device = try await Device.connect("readonly", to: fixture.broker)
                try await device.ask("echo", Data("before".utf8), correlation: "before")
                #expect(try await device.reply(to: "before").status == 200)

                try mount.failToReadOnly()
                let (refused, _) = try await firstRefusal(device, prefix: "ro")
                #expect(refused.errorCode == "unavailable", "\(refused.text)")
                #expect(fixture.bridge.isRunning)
                try await device.ask("echo", Data("still".utf8), correlation: "still")
                #expect(try await device.reply(to: "still").status == 503)

                await fixture.bridge.stop()
                try await mount.repair()
                _ = try await fixture.restartBridge()
                try await device.ask("echo", Data("after".utf8), correlation: "after")
                let after = try await device.reply(to: "after")
                #expect(after.status == 200 && after.text == "after")
                await device.shutdown()
            }
        }
    }

    // MARK: Workers

    @Test
    func aWorkerThatAnswersGarbageNeverTakesTheBridgeDown() async throws {
        try await BridgeFixture.with(policy: FakeWorker.silent) { fixture in
            let device = try await Device.connect("garbage", to: fixture.broker)
            let statuses = ["abc": "abc", "too-high": "99999", "negative": "-5", "fraction": "200.5"]
            for correlation in statuses.keys { try await device.ask("echo", Data(correlation.utf8), correlation: correlation) }
            let works = try await fixture.worker.received.wait(for: statuses.count) { $0.topic == "courier/work/echo" }
            for message in works {
                try await fixture.worker.reply(to: .init(message: message), rawStatus: statuses[message.text], payload: Data("garbage".utf8))
            }
            for correlation in statuses.keys {
                let reply = try await device.reply(to: correlation)
                #expect(reply.status == 500 && reply.errorCode == "worker_error", "\(correlation): \(reply.status ?? 0) \(reply.text)")
            }

            // Replies without correlation data, with one the bridge never made, and a huge one
            // on a made-up id are ignored; the real answer still gets through.
            try await device.ask("echo", Data("kept".utf8), correlation: "kept")
            let keptMessage = try #require(try await fixture.worker.received.wait(for: statuses.count + 1) { $0.topic == "courier/work/echo" }.last)
            let kept = FakeWorker.Work(message: keptMessage)
            try await fixture.worker.reply(to: kept, rawStatus: "200", payload: Data("none".utf8), correlation: .some(nil))
            try await fixture.worker.reply(to: kept, rawStatus: "200", payload: Data("forged".utf8), correlation: Data("not-a-request".utf8))
            try await fixture.worker.reply(to: kept, rawStatus: "200", payload: Data(count: 4_000_000), correlation: Data(count: 60_000))
            try await fixture.worker.reply(to: kept, status: 200, payload: Data("kept".utf8))
            let reply = try await device.reply(to: "kept")
            #expect(reply.status == 200 && reply.text == "kept")
            #expect(device.replies.all.count == statuses.count + 1)
            #expect(fixture.bridge.isRunning)
            await device.shutdown()
        }
    }

    /// A worker's reply the broker takes from the worker but that no broker can carry to the
    /// device (over its maximum packet size with the device's long Response Topic): the device
    /// gets a 500 in its place, once, and a restart does not replay it.
    @Test
    func aReplyTooLargeToDeliverIsAnswered500InItsPlaceOnce() async throws {
        try await withBroker(extraConfig: "max_packet_size 1048576") { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-large-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker)
            let worker = try await FakeWorker.start(on: broker, operations: ["echo"]) { work in
                work.message.text == "large" ? (200, Data(repeating: 0x61, count: 1_048_000)) : (200, work.message.payload)
            }
            var bridge = try await CourierDaemon.start(["bridge", "--config", config], readyLine: "bridge started", directory: directory)
            let device = try await Device.connect("large", to: broker)
            let longTopic = "devices/large/replies/" + String(repeating: "r", count: 1000)
            try await device.ask("echo", Data("large".utf8), correlation: "large", responseTopic: longTopic)
            let reply = try await device.reply(to: "large")
            #expect(reply.status == 500 && reply.errorCode == "worker_error")
            #expect(reply.topic == longTopic)

            #expect(await bridge.stop() == 0)
            bridge = try await CourierDaemon.start(["bridge", "--config", config], readyLine: "bridge started", directory: directory)
            try await device.ask("echo", Data("small".utf8), correlation: "small")
            #expect(try await device.reply(to: "small").status == 200)
            #expect(device.replies.all.count == 2, "the undeliverable reply is not published again after a restart")
            #expect(await bridge.stop() == 0)
            await device.shutdown()
            await worker.stop()
        }
    }
}

// MARK: Helpers

/// Sends requests one at a time until one is refused; returns the refusal and the
/// correlation of every request sent. A request the store still took (SQLite may reuse room
/// in its WAL) may be answered only once the store can record its result again.
private func firstRefusal(_ device: Device, prefix: String) async throws -> (refusal: MQTTMessage, sent: [String]) {
    var sent: [String] = []
    for index in 0..<100 {
        let correlation = "\(prefix)-\(index)"
        try await device.ask("echo", Data(correlation.utf8), correlation: correlation)
        sent.append(correlation)
        if let reply = try? await device.reply(to: correlation, within: .seconds(2)), reply.status == 503 {
            return (reply, sent)
        }
    }
    throw FixtureError.timeout("no request was refused")
}

/// Waits until every request sent has a final reply: 200 with its payload, 503 (refused) or
/// 504 (its result could not be recorded before the deadline).
private func expectEveryOneAnswered(_ device: Device, _ sent: [String]) async throws {
    for correlation in sent {
        let reply = try await device.reply(to: correlation, within: .seconds(30))
        #expect((reply.status == 200 && reply.text == correlation) || reply.status == 503 || reply.status == 504, "\(correlation): \(reply.status ?? 0)")
    }
}

/// Runs `body` with a fresh 16 MB tmpfs, unmounted afterwards.
private func withStoreMount(_ body: (URL) async throws -> Void) async throws {
    let mount = FileManager.default.temporaryDirectory.appendingPathComponent("courier-mount-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
    try await run("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mount.path])
    do {
        try await body(mount)
    } catch {
        _ = try? await Command.run("umount", ["-l", mount.path])
        throw error
    }
    try await run("umount", ["-l", mount.path])
    try? FileManager.default.removeItem(at: mount)
}

/// An ext4 image mounted on a loop device with `errors=remount-ro`.
private struct Ext4Mount {
    let image: URL
    let directory: URL

    func mount() async throws {
        try await run("mount", ["-o", "loop,errors=remount-ro", image.path, directory.path])
    }

    /// Makes ext4 detect an error, which turns the filesystem read-only at once, open files
    /// included, as a failing disk would.
    func failToReadOnly() throws {
        let source = try String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)
            .split(separator: "\n").first { $0.split(separator: " ").dropFirst().first.map(String.init) == directory.path }
        let device = try #require(source?.split(separator: " ").first.map { String($0.split(separator: "/").last ?? "") })
        try "1".write(toFile: "/sys/fs/ext4/\(device)/trigger_fs_error", atomically: false, encoding: .utf8)
    }

    /// What an operator does: unmount, check, mount again.
    func repair() async throws {
        try await run("umount", ["-l", directory.path])
        _ = try await Command.run("e2fsck", ["-fy", image.path])  // exits 1 when it fixed something
        try await mount()
    }
}

private func withExt4Mount(_ body: (Ext4Mount) async throws -> Void) async throws {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("courier-ext4-\(UUID().uuidString)")
    let mount = Ext4Mount(image: base.appendingPathExtension("img"), directory: base)
    try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
    try await run("truncate", ["-s", "64M", mount.image.path])
    try await run("mkfs.ext4", ["-q", mount.image.path])
    try await mount.mount()
    do {
        try await body(mount)
    } catch {
        _ = try? await Command.run("umount", ["-l", base.path])
        try? FileManager.default.removeItem(at: mount.image)
        throw error
    }
    try await run("umount", ["-l", base.path])
    try? FileManager.default.removeItem(at: mount.image)
    try? FileManager.default.removeItem(at: base)
}

/// Fills the mount until it has no room left; returns the filler file.
private func fill(_ mount: URL) throws -> URL {
    let filler = mount.appendingPathComponent("filler")
    guard FileManager.default.createFile(atPath: filler.path, contents: nil) else { throw FixtureError.commandFailed("cannot create \(filler.path)") }
    let handle = try FileHandle(forWritingTo: filler)
    defer { try? handle.close() }
    let chunk = Data(count: 64 * 1024)
    while (try? handle.write(contentsOf: chunk)) != nil {}
    return filler
}

private func run(_ command: String, _ arguments: [String]) async throws {
    let output = try await Command.run(command, arguments)
    guard output.status == 0 else { throw FixtureError.commandFailed("\(command) \(arguments.joined(separator: " ")): \(output.stderr)") }
}
