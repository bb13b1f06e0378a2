import Foundation

/// What every benchmark prints before its figures: the exact command, when, and where.
enum BenchReport {
    /// The command line as typed, with the executable's directory left out.
    static var commandLine: String {
        var arguments = CommandLine.arguments
        if let executable = arguments.first {
            arguments[0] = URL(fileURLWithPath: executable).lastPathComponent
        }
        return arguments.map(shellQuoted).joined(separator: " ")
    }

    static func printHeader(broker: BenchBroker, details: [(String, String)] = []) {
        #if DEBUG
        let build = "debug build: figures are not representative, use -c release"
        #else
        let build = "release build"
        #endif
        let lines = [
            ("command", commandLine),
            ("date", Date().formatted(.iso8601)),
            ("machine", "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(build)"),
            ("broker", broker.isPrivate ? "private mosquitto at \(broker.url)" : broker.url),
        ] + details
        for (name, value) in lines {
            output("\(name + ":")".padding(toLength: 10, withPad: " ", startingAt: 0) + value)
        }
    }

    /// A line of figures on stdout, written at once so that it keeps its place among the
    /// progress lines on stderr.
    static func output(_ line: String = "") {
        // A closed stdout (`courier-bench bridge | head`) loses the figures, not the run:
        // the benchmark still stops what it started (``BenchCommand/main()``).
        try? FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8))
    }

    static func output(_ table: TextTable) {
        for line in table.lines { output(line) }
    }

    /// Progress, on stderr so that stdout holds only the figures.
    static func progress(_ message: String) {
        try? FileHandle.standardError.write(contentsOf: Data("… \(message)\n".utf8))
    }

    private static func shellQuoted(_ argument: String) -> String {
        let plain = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_./:=,@%+"))
        if !argument.isEmpty, argument.unicodeScalars.allSatisfy(plain.contains) { return argument }
        return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// A plain-text table: the first column left-aligned, the others right-aligned.
struct TextTable {
    let columns: [String]
    private(set) var rows: [[String]] = []

    init(_ columns: String...) {
        self.columns = columns
    }

    mutating func add(_ cells: String...) {
        rows.append(cells)
    }

    /// The table's lines, header first.
    var lines: [String] {
        let all = [columns] + rows
        let widths = columns.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
    }
}

extension Double {
    /// Fixed-point text with `digits` decimals.
    func text(_ digits: Int) -> String {
        String(format: "%.\(digits)f", self)
    }
}
