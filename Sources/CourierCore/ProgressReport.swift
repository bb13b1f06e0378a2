import Foundation

/// A worker's latest progress on a request (status 102): what status queries and event
/// streams show, and what the device is sent.
package struct ProgressReport: Sendable, Equatable {
    package var requestID: String
    /// 0-100, when the worker gave one.
    package var percent: Int?
    /// A status text or JSON, as the worker sent it.
    package var payload: Data
    package var contentType: String?
    /// Unix ms when the bridge received it.
    package var at: Int64

    package init(requestID: String, percent: Int?, payload: Data, contentType: String?, at: Int64) {
        self.requestID = requestID
        self.percent = percent
        self.payload = payload
        self.contentType = contentType
        self.at = at
    }
}
