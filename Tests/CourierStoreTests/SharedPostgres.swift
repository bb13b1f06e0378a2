import CourierTesting
import Testing

/// The process's shared PostgreSQL server (``PostgresServer/withShared(_:)``) for a suite and
/// everything in it: held from before its first test to after its last. Each test makes its
/// own database on it. Without PostgreSQL installed the suite fails, saying so: nothing is
/// skipped.
struct SharedPostgres: SuiteTrait, TestScoping {
    @TaskLocal private static var server: PostgresServer?

    /// The server of the suite this test runs in.
    static func current() throws -> PostgresServer {
        guard let server else { throw FixtureError.postgresDidNotStart("the suite has no .sharedPostgres trait") }
        return server
    }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await PostgresServer.withShared { server in
            try await Self.$server.withValue(server) { try await function() }
        }
    }
}

extension Trait where Self == SharedPostgres {
    static var sharedPostgres: Self { Self() }
}
