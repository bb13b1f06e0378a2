import Foundation

/// The complete lines a growing file has gained since the last look: how the benchmarks read
/// what a child process writes while it runs.
struct FileTail {
    let path: String
    private var offset: UInt64 = 0

    init(path: String) {
        self.path = path
    }

    mutating func newLines() throws -> [String] {
        guard let file = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? file.close() }
        try file.seek(toOffset: offset)
        let data = try file.readToEnd() ?? Data()
        // A line still being written waits for the next look.
        guard let end = data.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        offset += UInt64(end - data.startIndex + 1)
        return data[..<end].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }
}
