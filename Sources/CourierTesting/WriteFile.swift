import Foundation

/// Writes `text` to `path` (created or truncated) without `fsync`, which Foundation's writes
/// do: a fixture's config file needs no durability, and on a busy disk the sync held one of
/// the few threads every test shares for seconds.
package func writeFile(_ text: String, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw FixtureError.commandFailed("open \(path): errno \(errno)") }
    defer { close(fd) }
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written < 0 {
            if errno == EINTR { continue }
            throw FixtureError.commandFailed("write \(path): errno \(errno)")
        }
        bytes = bytes.dropFirst(written)
    }
}
