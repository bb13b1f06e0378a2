import CourierTesting
import Foundation
import Testing

/// `courier config check` on the shipped file and on a broken one.
@Suite(.timeLimit(.minutes(1)))
struct ConfigCheckTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test
    func theShippedConfigurationIsValid() async throws {
        let result = try await Command.run(CourierDaemon.binary, ["config", "check", Self.root.appendingPathComponent("Config/courier.yaml").path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("ok (3 operations"))
    }

    @Test
    func aBrokenFileNamesItsLineAndKey() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml")
        try "bridge:\n  id: b\nlimits:\n  maxPendingPerDevice: lots\n".write(to: file, atomically: true, encoding: .utf8)
        let result = try await Command.run(CourierDaemon.binary, ["config", "check", file.path])
        #expect(result.status == 2)
        #expect(result.stdout.contains("\(file.path):4: limits.maxPendingPerDevice"), "\(result.stdout)")
    }
}
