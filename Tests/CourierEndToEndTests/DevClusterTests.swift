import CourierTesting
import Foundation
import Testing

/// `courier dev --bridges 2` on a PostgreSQL database: the private broker, two `courier bridge`
/// and two `courier worker` children, simulated devices in process; Ctrl-C stops all of it.
@Suite(.timeLimit(.minutes(3)))
struct DevClusterTests {
    static let root = DevCommandTests.root

    /// A loopback port whose next one is free too, both handed out by this process.
    static func twoConsecutivePorts() throws -> Int {
        var first = try FreePort.allocate()
        while true {
            let next = try FreePort.allocate()
            if next == first + 1 { return first }
            first = next
        }
    }

    @Test
    func bothBridgesAnswerAndCtrlCStopsEveryChild() async throws {
        try await PostgresServer.withShared { postgres in
            let database = try await postgres.createDatabase()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-dev-cluster-\(UUID().uuidString)")
            let http = try Self.twoConsecutivePorts()
            let dev = try await CourierDaemon.start(
                [
                    "dev", "--bridges", "2", "--store", postgres.url(database: database), "--devices", "5",
                    "--port", "0",
                    "--http", "127.0.0.1:\(http)",
                    "--state-dir", directory.appendingPathComponent("state").path,
                    "--config", Self.root.appendingPathComponent("Config/courier.yaml").path,
                    "--mosquitto-config", Self.root.appendingPathComponent("Config/mosquitto.conf").path,
                    "--profile", Self.root.appendingPathComponent("Devices/profiles/thermostat.yaml").path,
                ],
                readyLine: "Ctrl-C to stop",
                directory: directory,
                ownProcessGroup: true,
                within: .seconds(90)
            )
            let children = ProcessTable.children(of: dev.pid)
            do {
                // The broker, two bridges and two workers.
                #expect(children.count == 5, "\(dev.log)")
                for (id, port) in [("dev-1", http), ("dev-2", http + 1)] {
                    #expect(dev.log.contains("bridge \(id): http://127.0.0.1:\(port) (pid "), "\(dev.log)")
                    let ready = try await Command.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/readyz"])
                    #expect(ready.stdout == "200", "\(id): \(ready.stdout)")
                }
                // The broker shares the devices' requests between the bridges: each stores its own.
                try await eventually("requests owned by dev-1 and by dev-2", within: .seconds(60)) {
                    let owners = try await postgres.psql(
                        "SELECT DISTINCT owner FROM requests WHERE state = 'completed' ORDER BY owner", database: database)
                    return owners == "dev-1\ndev-2"
                }

                // A terminal sends SIGINT to the whole foreground process group.
                kill(-dev.pid, SIGINT)
                let status = try await withTimeout(.seconds(60), "courier dev exits") { await dev.wait() }
                #expect(status == 0, "\(dev.log)")
                for child in children {
                    #expect(!ProcessTable.exists(child), "child \(child) outlived courier dev")
                    #expect(ProcessTable.members(ofGroup: child).isEmpty)
                }
                #expect(ProcessTable.members(ofGroup: dev.pid).isEmpty)
                #expect(dev.log.contains("courier dev: stopped"), "\(dev.log)")
                #expect(dev.log.contains("mismatches 0, unmatched 0,"), "\(dev.log)")
                // The devices' progress every 2 s, and none once they are stopped.
                let progressLines = dev.log.split(separator: "\n").filter { $0.hasPrefix("devices: ") }
                #expect(progressLines.count < 40, "\(dev.log)")
            } catch {
                dev.signal(SIGKILL)
                // Each child leads a process group of its own and outlives a killed courier dev.
                for child in children { kill(child, SIGKILL) }
                print("courier dev log:\n\(dev.log)")
                throw error
            }
        }
    }

    @Test(arguments: [
        (["--bridges", "2"], "--bridges 2 needs a store every bridge can reach"),
        (["--workers", "3"], "--workers needs --bridges 2 or more"),
    ])
    func aClusterWithoutWhatItNeedsIsRefusedBeforeStartingAnything(_ flags: [String], message: String) async throws {
        let result = try await Command.run(
            CourierDaemon.binary,
            ["dev", "--config", Self.root.appendingPathComponent("Config/courier.yaml").path,
             "--mosquitto-config", Self.root.appendingPathComponent("Config/mosquitto.conf").path] + flags
        )
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }
}
