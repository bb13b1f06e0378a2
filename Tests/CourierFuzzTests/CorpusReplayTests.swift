@_spi(Fuzzing) import CourierFuzzing
import CourierTestTraits
import Foundation
import Testing

/// Every input of the committed fuzzing corpus (`Fuzz/Corpus/{target}/`) goes through its
/// target again: none may crash or break an invariant. The corpus grows with `Scripts/fuzz.sh`.
/// On threads of its own: seconds of parsing, which would hold the shared cooperative pool.
@Suite(.timeLimit(.minutes(1)), .ownThreads)
struct CorpusReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Corpus")

    static func inputs(_ target: FuzzTarget) throws -> [(name: String, data: Data)] {
        let directory = corpus.appendingPathComponent(target.rawValue)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !$0.hasPrefix(".") }.sorted()
        return try names.map { ($0, try Data(contentsOf: directory.appendingPathComponent($0))) }
    }

    @Test(arguments: FuzzTarget.allCases)
    func everyCorpusInputPasses(_ target: FuzzTarget) async throws {
        let inputs = try Self.inputs(target)
        #expect(!inputs.isEmpty, "Fuzz/Corpus/\(target.rawValue) is empty")
        for input in inputs {
            do {
                try await target.run(input.data)
            } catch {
                Issue.record("Fuzz/Corpus/\(target.rawValue)/\(input.name): \(error)")
            }
        }
    }
}
