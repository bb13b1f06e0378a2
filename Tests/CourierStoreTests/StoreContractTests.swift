import CourierTestTraits
import Testing

/// The ``RequestStore`` contract, each test run against every backend (``StoreBackend``): the
/// suites nested in extensions of this type share one PostgreSQL server. On threads of their
/// own, as every store call blocks its thread until the disk or the server has answered; one
/// at a time, so that a few databases serve them all (``SpareDatabases``) rather than dozens
/// made at once while the rest of the suite runs.
@Suite("Store contract", .sharedPostgres, .ownThreads, .serialized, .timeLimit(.minutes(2)))
struct StoreContractTests {}
