import Crypto
import Foundation

/// The key the SQLite store indexes a request's identity (its duplicate-suppression key) by.
///
/// Identities arrive in no order, so each one indexed lands on a random page of the index, and
/// every page a transaction changes is written to the WAL and again by the checkpoint. An
/// 8-byte integer instead of the identity's text keeps that index a fraction of the size:
/// writing 200,000 requests, the text index took a third of the CPU, the integer one almost
/// none (Benchmarks/README.md).
///
/// The hash is stored, so it must not change between processes or versions: the first 8 bytes
/// of the identity's SHA-256. A lookup compares the identity itself too, so two identities
/// that share a hash cost it a second row, never a wrong answer; a device would need about
/// 2^32 tries to find a pair.
enum IdentityHash {
    static func of(_ identity: String) -> Int64 {
        var identity = identity
        let digest = identity.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        return digest.withUnsafeBytes { Int64(bitPattern: $0.loadUnaligned(as: UInt64.self)) }
    }
}
