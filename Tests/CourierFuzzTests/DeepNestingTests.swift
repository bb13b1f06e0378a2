import CourierConfig
import CourierCore
import CourierDevices
@_spi(Fuzzing) import CourierFuzzing
import CourierTestTraits
import CourierWorkers
import Foundation
import Testing

/// 100,000 levels of nesting, far deeper than the fuzzer's 4 KB inputs reach: every parser of
/// device input refuses them with its usual error instead of running out of stack (Foundation's
/// JSON parsers and libyaml stop at a fixed depth).
/// On threads of its own: parsing 100,000 levels takes seconds in a debug build.
@Suite(.timeLimit(.minutes(1)), .ownThreads)
struct DeepNestingTests {
    static let depth = 100_000

    enum JSONShape: String, CaseIterable {
        case arrays, objects

        var payload: String {
            switch self {
            case .arrays: String(repeating: "[", count: DeepNestingTests.depth)
            case .objects: String(repeating: #"{"readings":"#, count: DeepNestingTests.depth)
            }
        }
    }

    enum YAMLShape: String, CaseIterable {
        case flowLists, blockLists, flowMappings

        var text: String {
            switch self {
            case .flowLists: String(repeating: "[", count: DeepNestingTests.depth)
            case .blockLists: String(repeating: "- ", count: DeepNestingTests.depth)
            case .flowMappings: String(repeating: "{a: ", count: DeepNestingTests.depth)
            }
        }
    }

    @Test(arguments: JSONShape.allCases)
    func intakeRejectsItAsNotJSON(_ shape: JSONShape) throws {
        var configuration = CourierConfiguration()
        configuration.operations = [OperationConfig(name: "telemetry.summary", content: .json, maxPayloadBytes: 2_000_000)]
        let request = IncomingRequest(
            topic: "devices/d1/requests/telemetry.summary", payload: Data(shape.payload.utf8),
            responseTopic: "devices/d1/replies/x")
        guard case .reject(_, let code, _) = RequestIntake(configuration: configuration).evaluate(request, now: 0) else {
            Issue.record("not rejected")
            return
        }
        #expect(code == .badRequest)
        try FuzzTarget.intake.runSynchronously(Data("devices/d1/requests/telemetry.summary\n\n\(shape.payload)".utf8))
    }

    @Test(arguments: JSONShape.allCases)
    func theTelemetryHandlersAnswer400(_ shape: JSONShape) async throws {
        let request = HandlerRequest(device: "d1", operation: "telemetry.summary", deadline: .max, payload: Data(shape.payload.utf8))
        for handler in [TelemetrySummaryHandler() as any OperationHandler, TelemetryAnomaliesHandler()] {
            let error = await #expect(throws: HandlerError.self) { try await handler.handle(request) }
            #expect(error?.status == 400)
        }
        try await FuzzTarget.handlers.run(Data("s\(shape.payload)".utf8))
        try await FuzzTarget.handlers.run(Data("a\(shape.payload)".utf8))
    }

    @Test(arguments: YAMLShape.allCases)
    func configurationAndProfilesAreRefused(_ shape: YAMLShape) throws {
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: shape.text, file: "deep.yaml") }
        #expect(throws: ConfigError.self) { try DeviceProfile.parse(yaml: shape.text, file: "deep.yaml") }
        try FuzzTarget.config.runSynchronously(Data(shape.text.utf8))
        try FuzzTarget.profile.runSynchronously(Data(shape.text.utf8))
    }

    @Test func aProfilesJSONPayloadIsRefused() throws {
        let yaml = """
            name: deep
            devices: { count: 1, idPrefix: d }
            operations:
              - operation: echo
                payload: { json: \(String(repeating: "[", count: Self.depth))1\(String(repeating: "]", count: Self.depth)) }
            requestsPerDevice: 1
            """
        #expect(throws: ConfigError.self) { try DeviceProfile.parse(yaml: yaml, file: "deep.yaml") }
        try FuzzTarget.profile.runSynchronously(Data(yaml.utf8))
    }
}
