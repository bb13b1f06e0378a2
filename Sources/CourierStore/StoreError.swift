/// Errors raised by the stores beyond those their database itself reports.
package enum StoreError: Error, Sendable, Equatable {
    /// A paging cursor (`before`) that this store did not hand out.
    case badCursor
    /// A stored column holds a value the current code cannot read (for example an unknown state).
    case corruptRecord(id: String, column: String)
    /// A new record's id is already another record's.
    case idTaken(String)
}
