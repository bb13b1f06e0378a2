import CLibFuzzer
@_spi(Fuzzing) import CourierFuzzing
import Dispatch
import Foundation

/// The libFuzzer binary for every target of ``FuzzTarget``: `COURIER_FUZZ_TARGET` (or a first
/// argument `--target=NAME`) picks one, every other argument is libFuzzer's
/// (`-max_total_time=60`, corpus directories, a crash file to replay).
///
/// SwiftPM links an executable with `main` renamed to this module's entry point, so libFuzzer's
/// own `main` is not used: this one hands the arguments to `LLVMFuzzerRunDriver` instead.
@main
enum CourierFuzz {
    nonisolated(unsafe) static var target: FuzzTarget = .topics

    static func main() {
        var arguments = CommandLine.arguments
        var name = ProcessInfo.processInfo.environment["COURIER_FUZZ_TARGET"]
        if arguments.count > 1, arguments[1].hasPrefix("--target=") {
            name = String(arguments.remove(at: 1).dropFirst("--target=".count))
        }
        guard let name, let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("usage: COURIER_FUZZ_TARGET=NAME \(arguments[0]) [libFuzzer flags] [corpus...]; NAME is one of \(names)\n".utf8))
            exit(2)
        }
        Self.target = target

        // C strings that live as long as the process: libFuzzer keeps argv.
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var argc = CInt(arguments.count)
        let status = argv.withUnsafeMutableBufferPointer { buffer in
            var pointer = buffer.baseAddress
            return LLVMFuzzerRunDriver(&argc, &pointer) { data, size in
                CourierFuzz.test(data.map { Data(bytes: $0, count: size) } ?? Data())
                return 0
            }
        }
        exit(status)
    }

    /// One input: a broken invariant is a crash, which libFuzzer records with its input.
    static func test(_ input: Data) {
        let target = Self.target
        if target.isSynchronous {
            do {
                try target.runSynchronously(input)
            } catch {
                fatalError("\(error)")
            }
            return
        }
        // An immediate task runs on this thread until it first suspends (the built-in handlers
        // never do), so it is over, and its memory freed, when the call returns: libFuzzer's
        // leak check after each input sees nothing still held by a task in flight.
        let done = DispatchSemaphore(value: 0)
        Task.immediate {
            do {
                try await target.run(input)
            } catch {
                fatalError("\(error)")
            }
            done.signal()
        }
        done.wait()
    }
}
