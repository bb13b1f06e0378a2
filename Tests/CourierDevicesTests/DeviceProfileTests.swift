import CourierCore
@testable import CourierDevices
import Foundation
import Testing

@Suite
struct DeviceProfileTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let profiles = repository.appendingPathComponent("Devices/profiles")

    static let minimal = """
        name: minimal
        devices: { count: 3, idPrefix: dev }
        operations:
          - operation: echo
            payload: { echo: { bytes: 4 } }
        requestsPerDevice: 2
        """

    @Test
    func theThermostatProfileReadsAsWritten() throws {
        let profile = try DeviceProfile.load(path: Self.profiles.appendingPathComponent("thermostat.yaml").path)
        #expect(profile.name == "thermostat")
        #expect(profile.convention == .mqtt5)
        #expect(profile.deviceCount == 100)
        #expect(profile.idPrefix == "thermostat")
        #expect(profile.deviceID(0) == "thermostat-1")
        #expect(profile.operations.map(\.name) == ["telemetry.summary", "echo"])
        #expect(profile.operations.map(\.weight) == [4, 1])
        #expect(profile.operations[0].payload == .telemetry(.init(sensor: "temp", readings: 24, mean: 21.5, noise: 0.4)))
        #expect(profile.operations[1].payload == .echo(bytes: 64))
        #expect(profile.mode == .closed(outstanding: 1))
        #expect(profile.length == .duration(.seconds(30)))
        #expect(profile.timeout == .seconds(10))
    }

    @Test
    func everyShippedProfileParses() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.profiles.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(Set(files).isSuperset(of: ["thermostat.yaml", "anomaly-hunter.yaml", "legacy-311.yaml", "flood.yaml"]))
        for file in files {
            let profile = try DeviceProfile.load(path: Self.profiles.appendingPathComponent(file).path)
            #expect(profile.name + ".yaml" == file)
        }
        let legacy = try DeviceProfile.load(path: Self.profiles.appendingPathComponent("legacy-311.yaml").path)
        #expect(legacy.convention == .mqtt311)
        let flood = try DeviceProfile.load(path: Self.profiles.appendingPathComponent("flood.yaml").path)
        #expect(flood.mode == .rate(requestsPerSecond: 200))
    }

    @Test
    func defaultsAndTheOtherPayloadKinds() throws {
        let profile = try DeviceProfile.parse(yaml: """
            name: kinds
            protocol: mqtt311
            devices: { count: 2, idPrefix: k }
            operations:
              - operation: a
                payload: { json: { readings: [1, 2.5], threshold: 3, tag: x, ok: true, none: null } }
              - operation: b
                weight: 0.5
                payload: { text: "not json" }
                expectStatus: 400
            mode: { rate: { requestsPerSecond: 12.5 } }
            duration: 1500ms
            seed: 7
            qos: 0
            """)
        #expect(profile.convention == .mqtt311)
        #expect(profile.operations[0].payload == .json(#"{"none":null,"ok":true,"readings":[1,2.5],"tag":"x","threshold":3}"#))
        #expect(profile.operations[0].weight == 1)
        #expect(profile.operations[1].payload == .text("not json"))
        #expect(profile.operations[1].expectStatus == 400)
        #expect(profile.mode == .rate(requestsPerSecond: 12.5))
        #expect(profile.length == .duration(.milliseconds(1500)))
        #expect(profile.timeout == .seconds(10))
        #expect(profile.seed == 7)
        #expect(profile.qos == 0)
        let minimal = try DeviceProfile.parse(yaml: Self.minimal)
        #expect(minimal.mode == .closed(outstanding: 1))
        #expect(minimal.length == .requestsPerDevice(2))
        #expect(minimal.convention == .mqtt5)
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        let yaml: String
        let key: String
        let message: String
        var testDescription: String { "\(key): \(message)" }
    }

    static let badCases: [BadCase] = [
        BadCase(yaml: minimal.replacingOccurrences(of: "name: minimal\n", with: ""), key: "", message: "missing key name"),
        BadCase(yaml: minimal + "\nprotocl: mqtt5", key: "protocl", message: "unknown key"),
        BadCase(yaml: minimal + "\nprotocol: mqtt4", key: "protocol", message: "not mqtt5 or mqtt311"),
        BadCase(yaml: minimal.replacingOccurrences(of: "count: 3", with: "count: 0"), key: "devices.count", message: "must be between 1 and 1000000, found 0"),
        BadCase(yaml: minimal.replacingOccurrences(of: "count: 3", with: "count: many"), key: "devices.count", message: "expected a whole number"),
        BadCase(yaml: minimal.replacingOccurrences(of: "idPrefix: dev", with: "idPrefix: \"a/b\""), key: "devices.idPrefix", message: "must be 1 to 56 characters"),
        BadCase(yaml: minimal.replacingOccurrences(of: "bytes: 4", with: "bytes: -1"), key: "operations[0].payload.echo.bytes", message: "must be between 0 and 16777216, found -1"),
        BadCase(yaml: minimal.replacingOccurrences(of: "{ echo: { bytes: 4 } }", with: "{ echo: { bytes: 4 }, text: hi }"), key: "operations[0].payload", message: "exactly one of"),
        BadCase(yaml: minimal.replacingOccurrences(of: "{ echo: { bytes: 4 } }", with: "{ noise: 3 }"), key: "operations[0].payload.noise", message: "unknown key"),
        BadCase(yaml: minimal.replacingOccurrences(of: "- operation: echo", with: "- operation: echo\n    weight: 0"), key: "operations[0].weight", message: "greater than 0"),
        BadCase(yaml: minimal.replacingOccurrences(of: "requestsPerDevice: 2", with: "duration: 5x"), key: "duration", message: "not a duration"),
        BadCase(yaml: minimal + "\nduration: 5s", key: "requestsPerDevice", message: "not both"),
        BadCase(yaml: minimal.replacingOccurrences(of: "requestsPerDevice: 2", with: ""), key: "", message: "missing key duration or requestsPerDevice"),
        BadCase(yaml: minimal + "\nmode: { open: {} }", key: "mode.open", message: "unknown key"),
        BadCase(yaml: minimal + "\nmode: { closed: { outstanding: 0 } }", key: "mode.closed.outstanding", message: "must be between 1 and 1024, found 0"),
        BadCase(yaml: minimal + "\nmode: { rate: {} }", key: "mode.rate", message: "missing key requestsPerSecond"),
        BadCase(yaml: minimal.replacingOccurrences(of: "operations:\n  - operation: echo\n    payload: { echo: { bytes: 4 } }", with: "operations: []"), key: "operations", message: "at least one operation"),
        BadCase(yaml: "name: [unclosed", key: "", message: "invalid YAML"),
    ]

    @Test(arguments: badCases)
    func aBadProfileIsAClearErrorNamingTheKey(_ bad: BadCase) throws {
        let error = #expect(throws: ConfigError.self) { try DeviceProfile.parse(yaml: bad.yaml, file: "bad.yaml") }
        #expect(error?.key == bad.key, "\(String(describing: error))")
        #expect(error?.message.contains(bad.message) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix("bad.yaml:") == true, "\(String(describing: error))")
    }

    @Test
    func errorsGiveTheLine() throws {
        let error = #expect(throws: ConfigError.self) {
            try DeviceProfile.parse(yaml: Self.minimal.replacingOccurrences(of: "bytes: 4", with: "bytes: four"), file: "p.yaml")
        }
        #expect(error?.description == "p.yaml:5: operations[0].payload.echo.bytes: expected a whole number, found \"four\"")
        let missing = #expect(throws: ConfigError.self) { try DeviceProfile.load(path: "/nonexistent/profile.yaml") }
        #expect(missing?.description.contains("cannot read the profile") == true)
    }

    @Test
    func operationsArePickedByWeightAndPayloadsAreWellFormed() throws {
        let telemetry = DeviceProfile.Telemetry(sensor: "temp", readings: 50, mean: 20, noise: 1, threshold: 2.5, outlierChance: 0.1, outlierSize: 10)
        let maker = RequestMaker(operations: [
            .init(name: "a", weight: 3, payload: .telemetry(telemetry)),
            .init(name: "b", weight: 1, payload: .echo(bytes: 10)),
        ])
        var random = SeededGenerator(seed: 42)
        var picks = [0, 0]
        for _ in 0..<4000 { picks[maker.pick(using: &random)] += 1 }
        #expect((2800...3200).contains(picks[0]), "\(picks)")

        let data = RequestMaker.payload(.telemetry(telemetry), using: &random)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["sensor"] as? String == "temp")
        #expect(object["threshold"] as? Double == 2.5)
        let readings = try #require(object["readings"] as? [Double])
        #expect(readings.count == 50)
        #expect(readings.contains { abs($0 - 20) > 5 }, "outliers at 10 % should show in 50 readings")
        let echo = RequestMaker.payload(.echo(bytes: 10), using: &random)
        #expect(echo.count == 10 && echo.allSatisfy { (0x21...0x7E).contains($0) })

        // The same seed makes the same requests.
        var first = SeededGenerator(seed: 9)
        var second = SeededGenerator(seed: 9)
        #expect(RequestMaker.payload(.telemetry(telemetry), using: &first) == RequestMaker.payload(.telemetry(telemetry), using: &second))
    }
}

/// The `commands:` list of a profile.
@Suite
struct CommandProfileTests {
    @Test
    func theActuatorProfileReadsAsWritten() throws {
        let profile = try DeviceProfile.load(path: DeviceProfileTests.profiles.appendingPathComponent("actuator.yaml").path)
        #expect(profile.operations.isEmpty)
        #expect(profile.length == .duration(.seconds(600)))
        #expect(profile.commands == [
            CommandHandler(command: "ping"),
            CommandHandler(command: "blink", answer: .json(#"{"blinked":true}"#), delay: .milliseconds(200), progressSteps: 3, progressEvery: .milliseconds(200)),
            CommandHandler(command: "jam", answer: .text("motor jammed"), status: 500),
            CommandHandler(command: "update", answer: .text("updated"), offline: .seconds(5)),
        ])
    }

    @Test
    func requestsAndCommandsTogether() throws {
        let profile = try DeviceProfile.parse(yaml: DeviceProfileTests.minimal + "\ncommands:\n  - command: ping\n    answer: echo\n")
        #expect(profile.operations.map(\.name) == ["echo"])
        #expect(profile.commands == [CommandHandler(command: "ping")])
    }

    @Test(arguments: [
        ("commands:\n  - answer: echo\nduration: 1s", "commands[0]: missing key command"),
        ("commands:\n  - command: a\n  - command: a\nduration: 1s", "commands[1]: command \"a\" is listed twice"),
        ("commands:\n  - command: a\n    status: 202\nduration: 1s", "commands[0].status: 202 is not a final status"),
        ("commands:\n  - command: a\n    status: 99\nduration: 1s", "commands[0].status: must be between 200 and 599"),
        ("commands:\n  - command: a\n    answer: { bytes: 3 }\nduration: 1s", "commands[0].answer"),
        ("commands:\n  - command: a\n    progress: { every: 1s }\nduration: 1s", "commands[0].progress: missing key steps"),
        ("commands:\n  - command: a\n    offline: 0s\nduration: 1s", "commands[0].offline"),
        ("commands:\n  - command: a\nrequestsPerDevice: 3", "requestsPerDevice: devices that only answer commands run for a duration"),
        ("duration: 1s", "missing key operations"),
    ])
    func badCommandsNameTheirKey(tail: String, problem: String) {
        let yaml = "name: c\ndevices: { count: 1, idPrefix: c }\n" + tail
        #expect {
            _ = try DeviceProfile.parse(yaml: yaml)
        } throws: { error in
            "\(error)".contains(problem)
        }
    }
}
