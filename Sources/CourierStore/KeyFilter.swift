import CourierCore

/// Which ids and identities the store may hold: a Bloom filter, so that the intake reads the
/// SQLite file only for a key it may hold (about 0.25 % of new keys, at capacity), not for
/// every request. It never forgets a key; ``SQLiteStore`` builds one from the file on its applying
/// thread after it opens, and a larger one when it is full, which also drops the keys purged
/// since.
///
/// A class, used under the store's write lock only, like ``UnappliedRecords``. Unchecked
/// `Sendable` because a new one is built by a database read, outside the lock, and then handed
/// whole to the lock; nothing else shares it.
final class KeyFilter: @unchecked Sendable {
    private var words: [UInt64]
    /// Keys inserted.
    private(set) var count = 0
    /// Keys it takes before its false positives pass about 0.25 %.
    let capacity: Int

    /// An empty filter for `capacity` keys: 16 bits (2 bytes) a key, 4 probes. A request checks
    /// two keys, and a false positive costs a read of the file on the network thread: at 10 bits
    /// and 3 probes (1.7 % a key at capacity) those reads were about 2 % of its time.
    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        words = Array(repeating: 0, count: (self.capacity * Self.bitsPerKey + 63) / 64)
    }

    private static let bitsPerKey = 16
    private static let probes = 4

    var isFull: Bool { count >= capacity }

    func insert(_ key: String) {
        let bits = UInt64(words.count * 64)
        var (position, step) = Self.hashes(key)
        for _ in 0..<Self.probes {
            let bit = position % bits
            words[Int(bit / 64)] |= 1 << (bit % 64)
            position &+= step
        }
        count += 1
    }

    /// False when `key` was never inserted; true when it was, or (rarely) when it was not.
    func mayContain(_ key: String) -> Bool {
        let bits = UInt64(words.count * 64)
        var (position, step) = Self.hashes(key)
        for _ in 0..<Self.probes {
            let bit = position % bits
            guard words[Int(bit / 64)] & (1 << (bit % 64)) != 0 else { return false }
            position &+= step
        }
        return true
    }

    /// Two independent hashes of `key` (this process's seeded hashing; the filter lives in
    /// memory only), the second odd: the probes are `first + i * second`.
    private static func hashes(_ key: String) -> (UInt64, UInt64) {
        var first = Hasher()
        first.combine(key)
        var second = Hasher()
        second.combine(0x9e37_79b9_7f4a_7c15 as UInt64)
        second.combine(key)
        return (UInt64(bitPattern: Int64(first.finalize())), UInt64(bitPattern: Int64(second.finalize())) | 1)
    }
}

extension KeyFilter {
    /// Inserts `record`'s id and identity.
    func insert(_ record: RequestRecord) {
        insert(record.id)
        if let identity = record.identity { insert(identity) }
    }
}
