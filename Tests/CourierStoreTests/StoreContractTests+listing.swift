import CourierCore
import CourierStore
import Foundation
import Testing

extension StoreContractTests {
    @Suite("listing")
    struct Listing {
        @Test(arguments: StoreBackend.allCases)
        func listFiltersNewestFirst(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            try store.insert(makeRecord(id: "a", device: "d1", operation: "echo", receivedAt: 1_000))
            try store.insert(makeRecord(id: "b", device: "d2", operation: "echo", receivedAt: 3_000))
            try store.insert(makeRecord(id: "c", device: "d1", operation: "sum", receivedAt: 2_000))
            try store.insert(makeRecord(id: "d", device: "d1", operation: "echo", state: .rejected, receivedAt: 4_000))
            // Same receivedAt: ties break on id, descending.
            try store.insert(makeRecord(id: "e", device: "d2", operation: "sum", receivedAt: 3_000))

            let all = try store.list(RequestQuery())
            #expect(all.records.map(\.id) == ["d", "e", "b", "c", "a"])
            #expect(all.next == nil)
            #expect(try store.list(RequestQuery(device: "d1")).records.map(\.id) == ["d", "c", "a"])
            #expect(try store.list(RequestQuery(operation: "sum")).records.map(\.id) == ["e", "c"])
            #expect(try store.list(RequestQuery(state: .rejected)).records.map(\.id) == ["d"])
            #expect(
                try store.list(RequestQuery(state: .received, device: "d1", operation: "echo")).records.map(\.id) == ["a"])
            #expect(try store.list(RequestQuery(device: "nobody")).records.isEmpty)
        }

        @Test(arguments: StoreBackend.allCases)
        func pagingCoversEveryRecordOnce(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            // 7 records, two pairs sharing a receivedAt, so pages split inside a tie.
            let times: [Int64] = [100, 200, 200, 300, 400, 400, 500]
            for (i, time) in times.enumerated() {
                try store.insert(makeRecord(id: "r\(i)", receivedAt: time))
            }
            try store.insert(makeRecord(id: "other", device: "dev-2", receivedAt: 450))

            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try store.list(RequestQuery(device: "dev-1", limit: 3, before: cursor))
                #expect(page.records.count <= 3)
                seen += page.records.map(\.id)
                cursor = page.next
                pages += 1
            } while cursor != nil && pages < 10

            #expect(pages == 3)
            #expect(seen == ["r6", "r5", "r4", "r3", "r2", "r1", "r0"])
            #expect(Set(seen).count == seen.count)

            // A record inserted after the first page is fetched neither shifts nor repeats pages.
            let first = try store.list(RequestQuery(limit: 2))
            try store.insert(makeRecord(id: "newest", receivedAt: 10_000))
            let second = try store.list(RequestQuery(limit: 2, before: first.next))
            #expect(first.records.map(\.id) == ["r6", "other"])
            #expect(second.records.map(\.id) == ["r5", "r4"])
        }

        /// Ids compare byte by byte on every backend (PostgreSQL's locale would put `B` after
        /// `a`), so a cursor means the same page wherever it is used.
        @Test func cursorsAreTheSameOnEveryBackend() async throws {
            var pages: [[String]] = []
            for backend in StoreBackend.allCases {
                let fixture = try await StoreFixture.make(backend)
                defer { fixture.remove() }
                for id in ["a", "B", "_", "b", "A", "é", "0"] {
                    try fixture.store.insert(makeRecord(id: id, receivedAt: 100))
                }
                var seen: [String] = []
                var cursor: String?
                repeat {
                    let page = try fixture.store.list(RequestQuery(limit: 2, before: cursor))
                    seen += page.records.map(\.id) + [page.next ?? "end"]
                    cursor = page.next
                } while cursor != nil
                pages.append(seen)
            }
            #expect(pages[0] == ["é", "b", "100-b", "a", "_", "100-_", "B", "A", "100-A", "0", "end"])
            #expect(pages[1] == pages[0])
        }

        @Test(arguments: StoreBackend.allCases)
        func badCursorThrows(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            try fixture.store.insert(makeRecord(id: "a"))
            for cursor in ["garbage", "", "-abc", "12-", "x-1", "1.5-abc"] {
                #expect(throws: StoreError.badCursor, "\(cursor)") {
                    try fixture.store.list(RequestQuery(before: cursor))
                }
                #expect(throws: StoreError.badCursor, "\(cursor)") {
                    try fixture.store.deadLetters(limit: 10, before: cursor)
                }
            }
        }

        @Test(arguments: StoreBackend.allCases)
        func deadLettersAreFailedAndRejected(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let store = fixture.store
            try store.insert(makeRecord(id: "rej1", state: .rejected, receivedAt: 100))
            try store.insert(makeRecord(id: "ok", receivedAt: 200))
            try store.insert(makeRecord(id: "fail", receivedAt: 300))
            try store.insert(makeRecord(id: "exp", receivedAt: 400))
            try store.insert(makeRecord(id: "rej2", state: .rejected, receivedAt: 500))
            _ = try store.finish(
                id: "fail", state: .failed,
                reply: StoredReply(status: 500, code: "worker_error", reason: "worker_error"),
                onlyFrom: RequestState.pending, now: 600)
            _ = try store.finish(
                id: "exp", state: .expired, reply: StoredReply(status: 504, code: "timeout"),
                onlyFrom: RequestState.pending, now: 600)
            _ = try store.finish(id: "ok", state: .completed, reply: okReply, onlyFrom: RequestState.pending, now: 600)

            let all = try store.deadLetters(limit: 10, before: nil)
            #expect(all.records.map(\.id) == ["rej2", "fail", "rej1"])
            #expect(all.next == nil)
            #expect(all.records[1].reason == "worker_error")

            let first = try store.deadLetters(limit: 2, before: nil)
            #expect(first.records.map(\.id) == ["rej2", "fail"])
            let next = try #require(first.next)
            let second = try store.deadLetters(limit: 2, before: next)
            #expect(second.records.map(\.id) == ["rej1"])
            #expect(second.next == nil)
        }
    }
}
