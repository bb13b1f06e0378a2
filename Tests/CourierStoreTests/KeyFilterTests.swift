import CourierCore
import Foundation
import Testing

@testable import CourierStore

@Suite("KeyFilter")
struct KeyFilterTests {
    @Test func everyKeyInsertedIsFoundAndFewOthersAre() {
        let filter = KeyFilter(capacity: 10_000)
        for i in 0..<10_000 {
            filter.insert("m5|dev-\(i % 50)|\(i)")
        }
        #expect(filter.isFull)
        #expect((0..<10_000).allSatisfy { filter.mayContain("m5|dev-\($0 % 50)|\($0)") })
        let falsePositives = (10_000..<20_000).filter { filter.mayContain("m5|dev-\($0 % 50)|\($0)") }.count
        // About 0.25 % expected at capacity.
        #expect(falsePositives < 60, "\(falsePositives) of 10,000 keys never inserted")
    }

    /// The filter is built by the applying thread, not when the store opens, and built again
    /// when full: from the file, plus the records not yet applied. Duplicates of records on
    /// either side are found once they are all applied (and only the filter stands between a
    /// new request and a read of the file).
    @Test func theFilterIsBuiltAfterOpeningAndAgainWhenFull() throws {
        let fixture = try SQLiteFixture(applyInterval: .seconds(3600))
        defer { fixture.remove() }
        let store = fixture.store
        let a = makeRecord(id: "a", identity: "d/a")
        try store.insert(a)
        _ = try store.list(RequestQuery())  // applies a
        #expect(store.writes.withLock { $0.keys == nil })
        let c = makeRecord(id: "c", identity: "d/c")
        try store.insert(c)  // not applied when the filter is built
        try store.refreshKeys()
        #expect(store.writes.withLock { $0.keys?.count } == 4)

        store.writes.withLock { writes in
            let full = KeyFilter(capacity: 1)
            full.insert(a)
            full.insert(c)
            writes.keys = full
        }
        let b = makeRecord(id: "b", identity: "d/b")
        try store.insert(b)
        _ = try store.list(RequestQuery())  // applies b and c
        try store.refreshKeys()
        #expect(store.writes.withLock { $0.keys.map { !$0.isFull && $0.capacity >= 1 << 16 } } == true)
        for record in [a, b, c] {
            #expect(try store.insert(makeRecord(id: record.id + "2", identity: record.identity)) == .duplicate(record))
        }
        #expect(throws: StoreError.idTaken("a")) { try store.insert(makeRecord(id: "a", identity: "d/a3")) }
    }
}
