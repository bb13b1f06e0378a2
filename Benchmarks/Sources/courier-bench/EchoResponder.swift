import CourierProcess
import CourierTesting
import Foundation

/// The C echo responder, `Benchmarks/echo_responder.c`: the limit any responder can reach, and
/// the baseline of `courier-bench bridge`. Built with the C compiler (`CC`, or `cc`) and
/// libmosquitto at run time.
enum EchoResponder {
    /// `Benchmarks/echo_responder.c`, found from where this file sits in the package.
    static let source = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // courier-bench
        .deletingLastPathComponent()  // Sources
        .deletingLastPathComponent()  // Benchmarks
        .appendingPathComponent("echo_responder.c")

    /// Compiles the responder into `directory`; returns the executable.
    static func build(in directory: URL) async throws -> String {
        let executable = directory.appendingPathComponent("echo_responder").path
        let log = directory.appendingPathComponent("echo_responder-build.log")
        let compiler = ProcessInfo.processInfo.environment["CC"] ?? "cc"
        let arguments = ["-O2", "-o", executable, source.path, "-lmosquitto"]
        BenchReport.progress("building the C echo responder: \(compiler) \(arguments.joined(separator: " "))")
        let status = await (try ChildProcess.spawn(compiler, arguments, output: log.path)).wait()
        guard status == 0 else {
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw FixtureError.commandFailed("\(compiler) \(source.path) exited \(status) (libmosquitto-dev installed?): \(output)")
        }
        return executable
    }

    /// Runs `body` while the responder built in `directory` answers requests on `broker`; then
    /// stops it (SIGTERM, then wait), whether `body` threw or not.
    static func serving<T>(
        broker: MosquittoBroker,
        directory: URL,
        signals: StopOnSignal,
        _ body: (ChildProcess) async throws -> T
    ) async throws -> T {
        let executable = try await build(in: directory)
        let output = directory.appendingPathComponent("echo_responder.log")
        let responder = try ChildProcess.spawn(executable, ["127.0.0.1", "\(broker.port)"], output: output.path)
        func log() -> String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
        do {
            let result = try await signals.whileRunning(stop: { await responder.stop() }) {
                try await eventually("the echo responder subscribed") {
                    guard responder.isRunning else { throw FixtureError.commandFailed("echo_responder exited: \(log())") }
                    return log().contains("READY")
                }
                return try await body(responder)
            }
            await responder.stop()
            BenchReport.progress(log().split(separator: "\n").last.map(String.init) ?? "echo responder stopped")
            return result
        } catch {
            await responder.stop()
            BenchReport.progress("echo responder: \(log())")
            throw error
        }
    }
}
