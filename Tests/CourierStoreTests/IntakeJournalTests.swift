import CourierCore
import Foundation
import MQTT
import Testing

@testable import CourierStore

/// The intake journal's format and files, as plain values and real files.
@Suite("IntakeJournal")
struct IntakeJournalTests {
    /// Every field set, with the awkward values (empty strings and payloads, unicode, zero
    /// lengths, negative times), and every optional empty.
    static let records: [RequestRecord] = {
        var full = RequestRecord(
            id: "0190a1b2c3d4" + String(repeating: "f", count: 32), device: "dé/vice", operation: "", deviceProtocol: .mqtt311,
            correlationData: Data(), requestId: "q-1", identity: "d/q-1", responseTopic: "devices/d/replies/#",
            qos: 2, payload: Data((0..<1_000).map { UInt8($0 % 256) }), contentType: "application/json",
            payloadFormatIndicator: 1, userProperties: [UserProperty("", ""), UserProperty("k", "v ✓")],
            state: .completed, attempts: 3, receivedAt: -5, deadline: Int64.max, wakeAt: 0)
        full.updatedAt = 42
        full.replyStatus = 409
        full.replyCode = "conflict"
        full.replyPayload = Data([0])
        full.replyContentType = "text/plain"
        full.replyUserProperties = [UserProperty("a", "b")]
        full.deliveredAt = 43
        full.reason = "worker_error"
        full.kind = .command
        let empty = RequestRecord(id: "e", device: "d", operation: "echo", deviceProtocol: .http, receivedAt: 0, deadline: 0)
        return [full, empty]
    }()

    @Test(arguments: records)
    func aRecordComesBackFromItsBytesAsItWas(_ record: RequestRecord) {
        var bytes: [UInt8] = []
        RecordCodec.encode(record, into: &bytes)
        #expect(RecordCodec.decodeEntry(bytes[...]) == .record(record))
        // Cut short anywhere, or with a byte too many, it is no record.
        for cut in [0, 1, bytes.count / 2, bytes.count - 1] {
            #expect(RecordCodec.decodeEntry(bytes[..<cut]) == nil)
        }
        #expect(RecordCodec.decodeEntry((bytes + [0])[...]) == nil)
    }

    /// A delivery mark is 4 marker bytes, the id and the time: far smaller than the version it
    /// stands for, and never taken for a record (nor a record for it).
    @Test func aDeliveryMarkComesBackFromItsBytes() {
        var bytes: [UInt8] = []
        RecordCodec.encodeDelivered(id: Self.records[0].id, at: -3, into: &bytes)
        #expect(RecordCodec.decodeEntry(bytes[...]) == .delivered(id: Self.records[0].id, at: -3))
        #expect(bytes.count == 4 + 4 + 44 + 8)
        for cut in [0, 3, 4, bytes.count - 1] {
            #expect(RecordCodec.decodeEntry(bytes[..<cut]) == nil)
        }
        #expect(RecordCodec.decodeEntry((bytes + [0])[...]) == nil)
    }

    @Test func segmentsAreReadBackUpToAFrameACrashCutShort() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = try IntakeJournal(directory: directory)
        try journal.start(segment: 7)
        var frames: [UInt8] = []
        for record in Self.records {
            IntakeJournal.frame(record, into: &frames)
        }
        IntakeJournal.frameDelivered(id: "e", at: 7_000, into: &frames)
        let written = Self.records.map(JournalEntry.record) + [.delivered(id: "e", at: 7_000)]
        try journal.append(frames)
        #expect(try journal.rotate() == 7)
        try journal.append(frames)
        journal.close()
        #expect(try IntakeJournal.segments(in: directory) == [7, 8])
        #expect(try IntakeJournal.entries(directory, segment: 7) == written)

        // A write cut short: the whole first two frames, part of the third.
        let path = directory + "/00000000000000000008.log"
        try Data(frames.prefix(frames.count - 10)).write(to: URL(fileURLWithPath: path))
        #expect(try IntakeJournal.entries(directory, segment: 8) == Array(written.prefix(2)))
        // A flipped byte inside the first frame's payload: its checksum stops the reading there.
        var flipped = frames
        flipped[20] ^= 0xff
        try Data(flipped).write(to: URL(fileURLWithPath: path))
        #expect(try IntakeJournal.entries(directory, segment: 8) == [])

        try IntakeJournal.remove(directory, through: 7)
        #expect(try IntakeJournal.segments(in: directory) == [8])
    }

    /// One process writes a store: a second journal on the same directory is refused while the
    /// first holds it, and taken once it is closed.
    @Test func aJournalInUseIsRefused() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try IntakeJournal(directory: directory)
        #expect {
            try IntakeJournal(directory: directory)
        } throws: { error in
            guard case JournalError.inUse = error else { return false }
            return true
        }
        first.close()
        try IntakeJournal(directory: directory).close()
    }

    private func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("courier-journal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
