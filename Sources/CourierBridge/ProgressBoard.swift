import CourierCore
import Synchronization

/// The latest progress of each request in flight, and the throttle on what reaches devices:
/// at most one progress reply per request per interval, the latest winning, none after the
/// final reply (``end(_:)``). A request that ends elsewhere (cancelled through another bridge,
/// taken over) is forgotten at its deadline. Written on the network thread, read by the HTTP
/// API.
final class ProgressBoard: Sendable {
    private struct Entry {
        var latest: ProgressReport
        /// A reply held back by the throttle, sent by ``due(now:)``.
        var held: DeviceReply?
        /// Unix ms when a reply was last sent to the device.
        var sentAt: Int64
        /// The request's deadline: past it the entry goes.
        var until: Int64
    }

    private let interval: Int64
    private let entries = Mutex<[String: Entry]>([:])

    /// - Parameter interval: milliseconds between two progress replies to one device.
    init(interval: Int64) {
        self.interval = interval
    }

    /// Keeps `report` as the request's latest until the request ends, or `until` (unix ms);
    /// the reply to send now, or nil when one was sent less than an interval ago (this one is
    /// then held, replacing any held before).
    func update(_ report: ProgressReport, reply: DeviceReply?, until: Int64) -> DeviceReply? {
        entries.withLock { entries in
            guard var entry = entries[report.requestID] else {
                entries[report.requestID] = Entry(latest: report, held: nil, sentAt: report.at, until: until)
                return reply
            }
            entry.latest = report
            if report.at - entry.sentAt >= interval {
                entry.held = nil
                entry.sentAt = report.at
                entries[report.requestID] = entry
                return reply
            }
            entry.held = reply
            entries[report.requestID] = entry
            return nil
        }
    }

    /// The held replies whose interval has passed at `now`, taken off the board; entries past
    /// their request's deadline go.
    func due(now: Int64) -> [DeviceReply] {
        entries.withLock { entries in
            var due: [DeviceReply] = []
            for (id, entry) in entries {
                if now > entry.until {
                    entries[id] = nil
                    continue
                }
                guard let held = entry.held, now - entry.sentAt >= interval else { continue }
                due.append(held)
                entries[id]?.held = nil
                entries[id]?.sentAt = now
            }
            return due
        }
    }

    /// The request's latest progress, if a worker reported any.
    func latest(_ id: String) -> ProgressReport? {
        entries.withLock { $0[id]?.latest }
    }

    /// The request ended: its progress goes, and anything held is never sent.
    func end(_ id: String) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }
}
