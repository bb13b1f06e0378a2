/// Errors of the test fixtures.
package enum FixtureError: Error, CustomStringConvertible {
    case brokerDidNotStart(String)
    case postgresNotInstalled(String)
    case postgresDidNotStart(String)
    case commandFailed(String)
    case timeout(String)

    package var description: String {
        switch self {
        case .brokerDidNotStart(let log): "mosquitto did not start: \(log)"
        case .postgresNotInstalled(let message): "PostgreSQL is not installed: \(message)"
        case .postgresDidNotStart(let log): "PostgreSQL did not start: \(log)"
        case .commandFailed(let message): "command failed: \(message)"
        case .timeout(let what): "timed out: \(what)"
        }
    }
}
