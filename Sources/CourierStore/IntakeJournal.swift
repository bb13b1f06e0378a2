import CourierCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The store's redo log: every record version the store has accepted but not yet applied to
/// the SQLite file, appended to numbered segment files in a directory beside it.
///
/// A group commit is one `write(2)` of its records' frames: once it returns, the records survive
/// a crash of the process, the same guarantee as SQLite's WAL with `synchronous = NORMAL`
/// (neither syncs at commit). A frame is a 4-byte length, a 4-byte FNV-1a checksum and the
/// entry (``RecordCodec``: a record version, or a delivery mark), so reading stops cleanly at a
/// write that a crash cut short.
///
/// The store applies segments to SQLite in order and records the last one applied in the same
/// transaction; an applied segment is deleted. Holding the directory's lock file (`flock`)
/// makes this process the store's one writer.
final class IntakeJournal {
    let directory: String
    /// The segment being appended to.
    private var segment: UInt64 = 0
    private var file: Int32 = -1
    private var size: Int64 = 0
    private let lock: Int32

    /// Takes the directory's lock (creating the directory); ``start(segment:)`` opens a segment.
    init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let lock = open(directory + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else { throw JournalError.system("open \(directory)/lock", errno) }
        // A child process this one is starting holds a copy of every descriptor until its
        // exec closes them, lock included: wait a moment before calling the store taken.
        var attempts = 0
        while flock(lock, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            attempts += 1
            guard error == EWOULDBLOCK || error == EINTR, attempts < 200 else {
                Glibc.close(lock)
                throw error == EWOULDBLOCK ? JournalError.inUse(directory) : JournalError.system("flock \(directory)/lock", error)
            }
            usleep(10_000)
        }
        self.lock = lock
        self.directory = directory
    }

    /// Starts appending to segment `segment`, a new file.
    func start(segment: UInt64) throws {
        file = try Self.create(Self.path(directory, segment))
        self.segment = segment
    }

    /// Appends `frames` (from ``frame(_:into:)``) with one write; on failure nothing of them stays.
    func append(_ frames: [UInt8]) throws {
        var written = 0
        while written < frames.count {
            let count = frames.withUnsafeBytes { write(file, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                let error = errno
                if error == EINTR { continue }
                _ = ftruncate(file, off_t(size))
                _ = lseek(file, off_t(size), SEEK_SET)
                throw JournalError.system("write \(Self.path(directory, segment))", error)
            }
            written += count
        }
        size += Int64(written)
    }

    /// Whether nothing was appended to the current segment.
    var isEmpty: Bool { size == 0 }

    /// Starts the next segment; the number of the one it closed.
    func rotate() throws -> UInt64 {
        let next = try Self.create(Self.path(directory, segment + 1))
        Glibc.close(file)
        file = next
        size = 0
        segment += 1
        return segment - 1
    }

    /// Closes the segment and releases the lock.
    func close() {
        if file >= 0 { Glibc.close(file) }
        Glibc.close(lock)
    }

    // MARK: Files

    /// The numbers of the segment files in `directory`, ascending.
    static func segments(in directory: String) throws -> [UInt64] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: directory)
            .compactMap { $0.hasSuffix(".log") ? UInt64($0.dropLast(4)) : nil }
            .sorted()
    }

    /// The entries of one segment, in order, up to its end or the first frame a crash cut short.
    static func entries(_ directory: String, segment: UInt64) throws -> [JournalEntry] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(directory, segment))))
        var entries: [JournalEntry] = []
        var offset = 0
        while bytes.count - offset >= 8 {
            let length = Int(word(bytes, offset))
            let start = offset + 8
            guard length <= bytes.count - start else { break }
            let payload = bytes[start..<start + length]
            guard checksum(payload) == word(bytes, offset + 4), let entry = RecordCodec.decodeEntry(payload) else { break }
            entries.append(entry)
            offset = start + length
        }
        return entries
    }

    /// Deletes the segment files numbered up to `last`.
    static func remove(_ directory: String, through last: UInt64) throws {
        for segment in try segments(in: directory) where segment <= last {
            try FileManager.default.removeItem(atPath: path(directory, segment))
        }
    }

    /// Appends `record`'s frame to `bytes`.
    static func frame(_ record: RequestRecord, into bytes: inout [UInt8]) {
        frame(into: &bytes) { RecordCodec.encode(record, into: &$0) }
    }

    /// Appends the frame of a delivery mark to `bytes`.
    static func frameDelivered(id: String, at time: Int64, into bytes: inout [UInt8]) {
        frame(into: &bytes) { RecordCodec.encodeDelivered(id: id, at: time, into: &$0) }
    }

    private static func frame(into bytes: inout [UInt8], _ encode: (inout [UInt8]) -> Void) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 8))
        encode(&bytes)
        let length = UInt32(bytes.count - start - 8)
        let sum = checksum(bytes[(start + 8)...])
        put(length, &bytes, at: start)
        put(sum, &bytes, at: start + 4)
    }

    private static func path(_ directory: String, _ segment: UInt64) -> String {
        let digits = String(segment)
        return directory + "/" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    private static func create(_ path: String) throws -> Int32 {
        let file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        guard file >= 0 else { throw JournalError.system("open \(path)", errno) }
        return file
    }

    /// FNV-1a over 8-byte words (the last one zero-padded), folded to 32 bits: a frame's
    /// checksum, a loop a payload of hundreds of kilobytes goes through quickly even in a
    /// debug build.
    private static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        bytes.withUnsafeBytes { raw in
            var hash: UInt64 = 14_695_981_039_346_656_037
            var offset = 0
            while offset + 8 <= raw.count {
                hash = (hash ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 1_099_511_628_211
                offset += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while offset < raw.count {
                tail |= UInt64(raw[offset]) << shift
                shift += 8
                offset += 1
            }
            hash = (hash ^ tail ^ UInt64(raw.count)) &* 1_099_511_628_211
            return UInt32(truncatingIfNeeded: hash ^ (hash >> 32))
        }
    }

    private static func word(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) })
    }

    private static func put(_ value: UInt32, _ bytes: inout [UInt8], at offset: Int) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self) }
    }
}

/// Why the intake journal could not be opened or written.
enum JournalError: Error, CustomStringConvertible {
    /// Another process holds the journal's lock: it writes this store.
    case inUse(String)
    /// A system call failed with `errno`.
    case system(String, Int32)

    var description: String {
        switch self {
        case .inUse(let directory): "\(directory) is in use by another process (one process writes a SQLite store)"
        case .system(let call, let error): "\(call): \(String(cString: strerror(error)))"
        }
    }
}
