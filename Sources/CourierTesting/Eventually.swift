/// Waits until a condition holds, checking it again after each short pause; throws
/// ``FixtureError/timeout(_:)`` when it still does not hold at the limit. For conditions with
/// no event to wait on (a file's contents, a process's output).
package func eventually(
    _ what: String,
    within limit: Duration = .seconds(10),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw FixtureError.timeout(what) }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Runs an operation with a time limit, throwing ``FixtureError/timeout(_:)`` past it.
package func withTimeout<T: Sendable>(
    _ limit: Duration,
    _ what: String = "operation",
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw FixtureError.timeout(what)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
