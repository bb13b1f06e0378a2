import Foundation

/// A non-final reply to a request still being worked on (the contract's "Long-running work"):
/// progress (status 102, an optional percentage and a status text or JSON) or a heartbeat
/// (status 202, which only renews the bridge's attempt timer).
public struct ProgressUpdate: Sendable, Equatable {
    /// The status of a progress report.
    public static let progressStatus = 102
    /// The status of a heartbeat.
    public static let heartbeatStatus = 202

    /// ``progressStatus`` or ``heartbeatStatus``.
    public var status: Int
    /// How far along the work is, 0-100; sent as the user property `progress`.
    public var percent: Int?
    public var payload: Data
    public var contentType: String?

    /// A progress report; `percent` is clamped to 0-100.
    public static func progress(percent: Int?, payload: Data = Data(), contentType: String? = nil) -> ProgressUpdate {
        ProgressUpdate(status: progressStatus, percent: percent.map { min(100, max(0, $0)) }, payload: payload, contentType: contentType)
    }

    /// A heartbeat: no percentage, no payload.
    public static let heartbeat = ProgressUpdate(status: heartbeatStatus, percent: nil, payload: Data(), contentType: nil)

    /// Whether this is a heartbeat rather than a progress report.
    public var isHeartbeat: Bool { status == Self.heartbeatStatus }
}
