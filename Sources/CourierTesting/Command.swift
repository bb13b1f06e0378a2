import CourierProcess
import Foundation

/// Runs a command to completion with a time limit, capturing its output.
package enum Command {
    package struct Output: Sendable {
        package var status: Int32
        package var stdout: String
        package var stderr: String
    }

    /// Runs `executable arguments...`; throws ``FixtureError/timeout(_:)`` past `timeout`.
    package static func run(_ executable: String, _ arguments: [String], input: Data? = nil, timeout: Duration = .seconds(30)) async throws -> Output {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("out").path, err = directory.appendingPathComponent("err").path
        var inputPath: String?
        if let input {
            inputPath = directory.appendingPathComponent("in").path
            try input.write(to: URL(fileURLWithPath: inputPath!))
        }
        let child = try ChildProcess.spawn(executable, arguments, output: out, errorOutput: err, input: inputPath)
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await child.wait()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? true
            if !first { child.signal(SIGKILL) }
            group.cancelAll()
            return first
        }
        guard finished else { throw FixtureError.timeout("\(executable) \(arguments.joined(separator: " "))") }
        return Output(
            status: await child.wait(),
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        )
    }
}
