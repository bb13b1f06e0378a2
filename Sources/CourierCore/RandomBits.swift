#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Random bits from the system's secure source, fetched 4 KiB at a time: one system call per
/// 256 request ids, where `SystemRandomNumberGenerator` makes one per 64 bits.
package enum RandomBits {
    private struct Pool: ~Copyable {
        var words = [UInt64](repeating: 0, count: 512)
        var next = 512
    }

    private static let pool = Mutex(Pool())

    /// 128 random bits, as two words.
    package static func pair() -> (UInt64, UInt64) {
        pool.withLock { pool in
            if pool.next + 2 > pool.words.count {
                pool.words.withUnsafeMutableBytes(fill)
                pool.next = 0
            }
            defer { pool.next += 2 }
            return (pool.words[pool.next], pool.words[pool.next + 1])
        }
    }

    /// `arc4random_buf`: the system's secure source (glibc 2.36 and later, Darwin), one
    /// `getrandom` per call on Linux.
    private static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        arc4random_buf(buffer.baseAddress!, buffer.count)
    }
}
