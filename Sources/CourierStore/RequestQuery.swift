import CourierCore

/// Filters and paging for ``RequestStore/list(_:)``.
package struct RequestQuery: Sendable, Equatable {
    /// Only records in this state; nil for all.
    package var state: RequestState?
    /// Only this device's records; nil for all.
    package var device: String?
    /// Only this operation's records; nil for all.
    package var operation: String?
    /// Page size; values below 1 count as 1.
    package var limit: Int
    /// The opaque `next` cursor of the previous page; nil for the first page.
    package var before: String?

    package init(
        state: RequestState? = nil,
        device: String? = nil,
        operation: String? = nil,
        limit: Int = 50,
        before: String? = nil
    ) {
        self.state = state
        self.device = device
        self.operation = operation
        self.limit = limit
        self.before = before
    }
}

/// A position in the newest-first order `(receivedAt DESC, id DESC)`: the last record of a page.
///
/// Written as `"{receivedAt}-{id}"`, the same for every store; callers treat it as opaque.
package struct PageCursor: Equatable, Sendable {
    package var receivedAt: Int64
    package var id: String

    package init(receivedAt: Int64, id: String) {
        self.receivedAt = receivedAt
        self.id = id
    }

    /// Reads a cursor's text; throws ``StoreError/badCursor`` when it is not one.
    package init(_ text: String) throws {
        guard let dash = text.firstIndex(of: "-"),
            let receivedAt = Int64(text[..<dash]), receivedAt >= 0
        else { throw StoreError.badCursor }
        let id = String(text[text.index(after: dash)...])
        guard !id.isEmpty else { throw StoreError.badCursor }
        self.init(receivedAt: receivedAt, id: id)
    }

    package var text: String { "\(receivedAt)-\(id)" }
}
