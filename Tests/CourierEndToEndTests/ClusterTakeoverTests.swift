import CourierDevices
import CourierTestTraits
import CourierTesting
import Foundation
import Testing

/// Three bridges and two workers on one broker and one PostgreSQL: a bridge SIGKILLed under
/// load is taken over by the others.
@Suite(.timeLimit(.minutes(3)))
struct ClusterTakeoverTests {
    /// Every request the broker acknowledged gets its final reply, the requests the dead
    /// bridge held included, within the lease timeout (2 s) plus a few seconds: the devices
    /// give up on a request after 15 s. As after a crash of a lone bridge (guarantee 1), a
    /// reply may come twice, only ever the same stored reply: one the killed bridge published
    /// without living to see its PUBACK is published again by the bridge that took over.
    @Test(.heavyLoad) func aKilledBridgesRequestsAreAnsweredByTheOthers() async throws {
        try await Cluster.with(bridges: 3, workers: 2) { cluster in
            let devices = try await cluster.startDevices(
                profile: """
                    name: cluster
                    protocol: mqtt5
                    devices: { count: 200, idPrefix: cluster }
                    operations:
                      - operation: echo
                        payload: { echo: { bytes: 32 } }
                    mode:
                      closed: { outstanding: 1 }
                    requestsPerDevice: 5
                    timeout: 15s
                    """,
                count: 200
            )
            try await devices.waitForReplies(300)
            let victim = try #require(cluster.bridges["bridge-1"])
            await victim.kill()

            let report = try await devices.simulatorSummary()
            #expect(report.sent == 1000)
            #expect(report.replies == ["200": 1000], "\(report.summary)")
            #expect(report.mismatches == 0 && report.unmatched == 0 && report.timeouts == 0, "\(report.summary)")
            #expect(report.duplicates <= 200, "at most one per device in flight at the kill: \(report.summary)")
            let survivors = ["bridge-2", "bridge-3"].compactMap { cluster.bridges[$0]?.log }
            #expect(survivors.contains { $0.contains("took over the requests") && $0.contains("from=bridge-1") }, "\(survivors)")
            let owned = try await cluster.postgres.psql(
                "SELECT count(*) FROM requests WHERE owner = 'bridge-1' AND state IN ('received', 'dispatched')", database: cluster.database)
            #expect(owned == "0")

            // bridge-1 comes back: it takes its share of new requests, and nothing twice.
            try await cluster.startBridge("bridge-1")
            let again = try await cluster.startDevices(
                profile: """
                    name: cluster-again
                    protocol: mqtt5
                    devices: { count: 30, idPrefix: again }
                    operations:
                      - operation: echo
                        payload: { echo: { bytes: 32 } }
                    mode:
                      closed: { outstanding: 1 }
                    requestsPerDevice: 10
                    timeout: 15s
                    """,
                count: 30
            )
            let second = try await again.simulatorSummary()
            #expect(second.isClean && second.replies == ["200": 300], "\(second.summary)")
            let restarted = try await cluster.postgres.psql(
                "SELECT count(*) FROM requests WHERE owner = 'bridge-1' AND device LIKE 'again-%'", database: cluster.database)
            #expect((Int(restarted) ?? 0) > 0, "the restarted bridge took no requests")
        }
    }
}
