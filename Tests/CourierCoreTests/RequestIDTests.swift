import CourierCore
import Testing

@Suite("Request ids")
struct RequestIDTests {
    @Test func anIDIsTheTimeInHexThen128RandomBits() {
        let now: Int64 = 0x0190_a1b2_c3d4
        let id = RequestRecord.newID(now: now)
        #expect(id.count == 44)
        #expect(id.hasPrefix("0190a1b2c3d4"))
        #expect(id.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
        // The random part differs between ids of the same millisecond.
        let ids = Set((0..<1_000).map { _ in RequestRecord.newID(now: now) })
        #expect(ids.count == 1_000)
        #expect(Set(ids.map { $0.dropFirst(12).prefix(16) }).count == 1_000)
        #expect(Set(ids.map { $0.suffix(16) }).count == 1_000)
    }

    @Test func laterIDsSortAfterEarlierOnes() {
        #expect(RequestRecord.newID(now: 1_000) < RequestRecord.newID(now: 1_001))
        #expect(RequestRecord.newID(now: 0xffff_ffff_ffff) > RequestRecord.newID(now: 0x0fff_ffff_ffff))
        #expect(RequestRecord.newID(now: -5).hasPrefix("000000000000"))
    }
}
