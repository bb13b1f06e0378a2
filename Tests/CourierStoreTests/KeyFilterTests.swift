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
        #expect(falsePositives < 300, "\(falsePositives) of 10,000 keys never inserted")
    }

    /// A full filter is replaced, at the next apply, by one built from the file: the
    /// duplicates of records written before and after are still found.
    @Test func aFullFilterIsRebuiltFromTheFile() throws {
        let fixture = try SQLiteFixture(applyInterval: .seconds(3600))
        defer { fixture.remove() }
        let store = fixture.store
        let a = makeRecord(id: "a", identity: "d/a")
        try store.insert(a)
        _ = try store.list(RequestQuery())  // applies
        store.writes.withLock { writes in
            let full = KeyFilter(capacity: 1)
            full.insert(a)
            writes.keys = full
        }
        let b = makeRecord(id: "b", identity: "d/b")
        try store.insert(b)
        _ = try store.list(RequestQuery())  // applies, and rebuilds the full filter
        #expect(store.writes.withLock { !$0.keys.isFull && $0.keys.capacity >= 1 << 16 })
        #expect(try store.insert(makeRecord(id: "a2", identity: "d/a")) == .duplicate(a))
        #expect(try store.insert(makeRecord(id: "b2", identity: "d/b")) == .duplicate(b))
        #expect(throws: StoreError.idTaken("a")) { try store.insert(makeRecord(id: "a", identity: "d/a3")) }
    }
}
