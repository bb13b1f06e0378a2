import CourierTestTraits
import CourierTesting
import Foundation
import MQTT
import Testing

/// Every bridge on a shared store answers for every request, whichever took it.
@Suite(.timeLimit(.minutes(3)))
struct ClusterRequestsTests {
    /// Shared subscriptions hand a device's requests to the bridges in turn, so the same
    /// request sent six times reaches both: every copy after the first is a duplicate, answered
    /// from the store with the original's reply, and only the first reaches the worker.
    @Test func aDuplicateOnAnotherBridgeGetsTheStoredReplyAndNoWorker() async throws {
        try await Cluster.with(bridges: 2, workers: 0) { cluster in
            let worker = try await FakeWorker.start(on: cluster.broker, operations: ["echo"], policy: FakeWorker.echo)
            let device = try await Device.connect("dup-across", to: cluster.broker)
            for sent in 1...6 {
                try await device.ask("echo", Data("once".utf8), correlation: "same")
                let replies = try await device.replies(to: "same", count: sent)
                #expect(replies.last?.status == 200 && replies.last?.text == "once")
            }
            #expect(Set(worker.received.on("courier/work/echo").map(\.properties.correlationData)).count == 1)
            for bridge in ["bridge-1", "bridge-2"] {
                let metrics = try await cluster.http(bridge, "/metrics").body
                let duplicates = metrics.split(separator: "\n").first { $0.hasPrefix("courier_duplicates_total ") }
                #expect(duplicates.flatMap { Int($0.split(separator: " ").last ?? "") }.map { $0 >= 1 } == true, "\(bridge): \(duplicates ?? "none")")
            }
            await device.shutdown()
            await worker.stop()
        }
    }

    /// A request held by a silent worker: its status and list entry through either bridge, and
    /// a cancel through the bridge that does not own it reaches the device as 410.
    @Test func anyBridgeShowsAndCancelsARequestItDidNotTake() async throws {
        try await Cluster.with(bridges: 2, workers: 0) { cluster in
            let worker = try await FakeWorker.start(on: cluster.broker, operations: ["echo"], policy: FakeWorker.silent)
            let device = try await Device.connect("held-across", to: cluster.broker)
            try await device.ask("echo", Data("hold".utf8), correlation: "held")
            try await worker.received.wait { $0.topic == "courier/work/echo" }
            let id = try #require(worker.received.on("courier/work/echo").first?.properties.correlationData.map { String(decoding: $0, as: UTF8.self) })
            let owner = try await cluster.owner(of: id)
            let other = owner == "bridge-1" ? "bridge-2" : "bridge-1"
            #expect(["bridge-1", "bridge-2"].contains(owner))

            for bridge in ["bridge-1", "bridge-2"] {
                let status = try await cluster.http(bridge, "/v1/requests/\(id)")
                #expect(status.status == 200 && status.body.contains("\"state\":\"dispatched\""), "\(bridge): \(status)")
                let list = try await cluster.http(bridge, "/v1/requests?device=held-across")
                #expect(list.body.contains(id), "\(bridge): \(list)")
            }
            let cancelled = try await cluster.http(other, "/v1/requests/\(id)", method: "DELETE")
            #expect(cancelled.status == 200, "\(cancelled)")
            let reply = try await device.reply(to: "held")
            #expect(reply.status == 410)
            let result = try await cluster.http(owner, "/v1/requests/\(id)/result")
            #expect(result.status == 410, "\(result)")
            await device.shutdown()
            await worker.stop()
        }
    }

    /// PostgreSQL restarted under load: the bridges say they are not ready while it is down,
    /// then go on; every request the devices sent gets its final reply (503 for those that
    /// could not be stored), and nothing stays pending.
    @Test(.heavyLoad) func aPostgresRestartUnderLoadLosesNothing() async throws {
        try await Cluster.with(bridges: 2, workers: 1, ownPostgres: true) { cluster in
            let devices = try await cluster.startDevices(
                profile: """
                    name: pg-restart
                    protocol: mqtt5
                    devices: { count: 30, idPrefix: pgr }
                    operations:
                      - operation: echo
                        payload: { echo: { bytes: 32 } }
                    mode:
                      closed: { outstanding: 1 }
                    requestsPerDevice: 30
                    timeout: 25s
                    """,
                count: 30
            )
            try await devices.waitForReplies(150)
            await cluster.postgres.stop()
            try await eventually("a bridge not ready", within: .seconds(15)) {
                try await cluster.http("bridge-1", "/readyz").status == 503
            }
            try await cluster.postgres.restart()
            try await eventually("both bridges ready again", within: .seconds(30)) {
                let first = try await cluster.http("bridge-1", "/readyz").status
                let second = try await cluster.http("bridge-2", "/readyz").status
                return first == 200 && second == 200
            }
            let report = try await devices.simulatorSummary()
            let final = report.replies.values.reduce(0, +)
            #expect(report.sent == 900 && final == 900, "\(report.summary)")
            #expect(Set(report.replies.keys).isSubset(of: ["200", "503"]), "\(report.summary)")
            // A reply the broker acknowledged while the store could not record it is published
            // again by the delivery sweep: a duplicate, always the same stored reply.
            #expect(report.mismatches == 0 && report.unmatched == 0 && report.timeouts == 0, "\(report.summary)")
            try await eventually("nothing pending") {
                try await cluster.postgres.psql(
                    "SELECT count(*) FROM requests WHERE state IN ('received', 'dispatched')", database: cluster.database) == "0"
            }
        }
    }
}
