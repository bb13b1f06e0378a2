import Foundation
import Synchronization

/// Writes log lines to a file descriptor in batches: lines are appended to a buffer, and a
/// thread of its own writes it 10 ms after the first line arrives (it sleeps while there is
/// none), or at once when asked (warnings and errors) or when it grows past 64 KB. Lines of different threads never interleave, and
/// whatever is buffered is written when the process exits normally; a crash loses at most the
/// last few milliseconds of information lines.
final class LogOutput: Sendable {
    static let standardError = LogOutput(descriptor: STDERR_FILENO)

    private let descriptor: Int32
    private let buffer = Mutex<[UInt8]>([])
    /// Signalled when a line lands in an empty buffer.
    private let pending = DispatchSemaphore(value: 0)
    /// Serialises the writes themselves, so that batches keep their order.
    private let writing = Mutex(())
    private static let flushBytes = 65_536

    private init(descriptor: Int32) {
        self.descriptor = descriptor
        Thread.detachNewThread { [self] in
            Thread.current.name = "courier.log"
            while true {
                pending.wait()
                usleep(10_000)
                flush()
            }
        }
        atexit { LogOutput.standardError.flush() }
    }

    /// Queues one line (ending in a newline); `now` writes it, and everything before it, at once.
    func write(_ line: [UInt8], now: Bool) {
        let (first, full) = buffer.withLock { buffer in
            let first = buffer.isEmpty
            buffer += line
            return (first, buffer.count >= Self.flushBytes)
        }
        if now || full {
            flush()
        } else if first {
            pending.signal()
        }
    }

    /// Writes everything buffered.
    func flush() {
        writing.withLock { _ in
            let bytes = buffer.withLock { buffer in
                defer { buffer.removeAll(keepingCapacity: true) }
                return buffer
            }
            guard !bytes.isEmpty else { return }
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = Foundation.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return  // nowhere to report it: stderr is what failed
                    }
                    offset += written
                }
            }
        }
    }
}
