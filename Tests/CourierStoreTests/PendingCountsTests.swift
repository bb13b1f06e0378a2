@testable import CourierStore
import Testing

/// The pending counts the SQLite store keeps in memory, as plain values.
@Suite("PendingCounts")
struct PendingCountsTests {
    @Test func countsPerDeviceAndInAll() {
        var counts = PendingCounts()
        counts.add(2, device: "a")
        counts.add(1, device: "b")
        counts.add(-1, device: "a")
        #expect(counts["a"] == 1)
        #expect(counts["b"] == 1)
        #expect(counts["c"] == 0)
        #expect(counts.total == 2)
    }

    @Test func aDeviceAtZeroIsForgotten() {
        var counts = PendingCounts()
        counts.add(1, device: "a")
        counts.add(-1, device: "a")
        #expect(counts == PendingCounts())
    }

    @Test func changesAddUpIncludingNegativeOnes() {
        var counts = PendingCounts()
        counts.add(3, device: "a")
        counts.add(1, device: "b")
        var changes = PendingCounts()
        changes.add(-3, device: "a")
        changes.add(2, device: "c")
        counts.add(changes)
        var expected = PendingCounts()
        expected.add(1, device: "b")
        expected.add(2, device: "c")
        #expect(counts == expected)
        #expect(counts.total == 3)
    }
}
