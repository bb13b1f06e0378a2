import CourierCore
import CourierStore
import Foundation
import MQTT
import Testing

extension StoreContractTests {
    @Suite("records")
    struct Records {
        @Test(arguments: StoreBackend.allCases)
        func roundTripKeepsEveryField(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            var record = RequestRecord(
                id: "r1",
                device: "dev-1",
                operation: "echo",
                deviceProtocol: .mqtt311,
                correlationData: Data([0x00, 0xff, 0x10, 0x00, 0x80]),
                requestId: "req-7",
                identity: "dev-1/echo/req-7",
                responseTopic: "devices/dev-1/replies/echo",
                qos: 0,
                payload: Data([0xde, 0xad, 0x00, 0xbe, 0xef]),
                contentType: "application/octet-stream",
                payloadFormatIndicator: 1,
                userProperties: [
                    UserProperty("traceparent", "00-abc-def-01"),
                    UserProperty("k", "1"),
                    UserProperty("k", "2 ünïcode \"quoted\""),
                ],
                state: .dispatched,
                attempts: 2,
                receivedAt: 1_700_000_000_123,
                deadline: 1_700_000_030_123,
                wakeAt: 1_700_000_005_000
            )
            record.updatedAt = 1_700_000_001_000
            record.replyStatus = 504
            record.replyCode = "timeout"
            record.replyPayload = Data([0x01, 0x00, 0x02])
            record.replyContentType = "application/json"
            record.replyUserProperties = [UserProperty("status", "504"), UserProperty("error", "timeout")]
            record.deliveredAt = 1_700_000_002_000
            record.reason = "worker_error"
            record.kind = .command

            #expect(try fixture.store.insert(record) == .accepted)
            #expect(try fixture.store.record(id: "r1") == record)
            #expect(try fixture.store.record(identity: "dev-1/echo/req-7") == record)
            #expect(try fixture.store.record(id: "missing") == nil)
            #expect(try fixture.store.record(identity: "missing") == nil)

            // The same, read back from the file rather than from what is still to be written.
            try fixture.store.close()
            let reopened = try fixture.reopen()
            defer { try? reopened.close() }
            #expect(try reopened.record(id: "r1") == record)
            #expect(try reopened.record(identity: "dev-1/echo/req-7") == record)
        }

        /// Absent and empty are different: empty correlation data or an empty content type
        /// (a device may send either) must not come back as nil.
        @Test(arguments: StoreBackend.allCases)
        func roundTripKeepsNilAndEmptyValues(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let bare = RequestRecord(
                id: "bare", device: "d", operation: "o", deviceProtocol: .http,
                receivedAt: 5, deadline: 10)
            var empty = RequestRecord(
                id: "empty", device: "d", operation: "o", deviceProtocol: .mqtt5,
                correlationData: Data(), payload: Data(), contentType: "", receivedAt: 5, deadline: 10)
            empty.replyPayload = Data()
            empty.replyCode = ""
            try fixture.store.insert(bare)
            try fixture.store.insert(empty)

            let readBare = try #require(try fixture.store.record(id: "bare"))
            #expect(readBare == bare)
            #expect(readBare.correlationData == nil)
            #expect(readBare.replyPayload == nil)
            let readEmpty = try #require(try fixture.store.record(id: "empty"))
            #expect(readEmpty == empty)
            #expect(readEmpty.correlationData == Data())
            #expect(readEmpty.replyPayload == Data())

            try fixture.store.close()
            let reopened = try fixture.reopen()
            defer { try? reopened.close() }
            #expect(try reopened.record(id: "bare") == bare)
            let storedEmpty = try #require(try reopened.record(id: "empty"))
            #expect(storedEmpty == empty)
            #expect(storedEmpty.correlationData == Data())
            #expect(storedEmpty.payload == Data())
            #expect(storedEmpty.contentType == "")
            #expect(storedEmpty.replyCode == "")
        }

        @Test(arguments: StoreBackend.allCases)
        func duplicateIdentityReturnsStoredRecordWithoutInserting(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let original = makeRecord(id: "first", identity: "dev-1/abc")
            #expect(try fixture.store.insert(original) == .accepted)

            let again = makeRecord(id: "second", identity: "dev-1/abc", receivedAt: 2_000)
            #expect(try fixture.store.insert(again) == .duplicate(original))
            #expect(try fixture.store.record(id: "second") == nil)
            #expect(try fixture.store.pendingCount() == 1)

            // A final-state record (a rejection) is deduplicated too.
            let rejected = makeRecord(id: "third", identity: "dev-1/abc", state: .rejected)
            #expect(try fixture.store.insert(rejected) == .duplicate(original))
            #expect(try fixture.store.record(id: "third") == nil)

            // Records without identity never collide.
            #expect(try fixture.store.insert(makeRecord(id: "n1")) == .accepted)
            #expect(try fixture.store.insert(makeRecord(id: "n2")) == .accepted)
            #expect(try fixture.store.pendingCount() == 3)
        }

        @Test(arguments: StoreBackend.allCases)
        func dataSurvivesCloseAndReopen(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            let record = makeRecord(id: "durable", identity: "dev-1/x", wakeAt: 1_500)
            try fixture.store.insert(record)
            try fixture.store.insert(makeRecord(id: "done", device: "dev-2"))
            let finished = try #require(
                try fixture.store.finish(
                    id: "done", state: .completed, reply: okReply,
                    onlyFrom: RequestState.pending, now: 2_000))
            try fixture.store.close()

            let reopened = try fixture.reopen()
            defer { try? reopened.close() }
            #expect(try reopened.record(id: "durable") == record)
            #expect(try reopened.record(identity: "dev-1/x") == record)
            #expect(try reopened.record(id: "done") == finished)
            #expect(try reopened.pendingCount() == 1)
            #expect(try reopened.pendingCount(device: "dev-1") == 1)
            #expect(try reopened.pendingCount(device: "dev-2") == 0)
            #expect(try reopened.due(now: .max, limit: 10) == [record])
            // Reopening ran no migration twice and dedupe still holds.
            #expect(try reopened.insert(makeRecord(id: "dup", identity: "dev-1/x")) == .duplicate(record))
        }

        @Test(arguments: StoreBackend.allCases)
        func closedStoreThrows(_ backend: StoreBackend) async throws {
            let fixture = try await StoreFixture.make(backend)
            defer { fixture.remove() }
            try fixture.store.close()
            #expect(throws: (any Error).self) { try fixture.store.record(id: "x") }
            #expect(throws: (any Error).self) { try fixture.store.insert(makeRecord()) }
        }
    }
}
