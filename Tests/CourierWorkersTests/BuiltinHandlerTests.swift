import CourierCore
import CourierWorkers
import Foundation
import Testing

@Suite(.timeLimit(.minutes(1)))
struct EchoHandlerTests {
    @Test(arguments: [nil, "application/octet-stream", "text/plain; charset=utf-8"])
    func echoesBytesAndContentType(_ contentType: String?) async throws {
        let bytes = Data((0...255).map(UInt8.init) + [0, 0xFF, 0x0A])
        let request = HandlerRequest(
            requestID: "r", device: "d1", operation: "echo", deadline: unixMillis() + 1000, payload: bytes, contentType: contentType)
        let response = try await EchoHandler().handle(request)
        #expect(response.status == 200)
        #expect(response.payload == bytes)
        #expect(response.contentType == contentType)
    }

    @Test func echoesAnEmptyPayload() async throws {
        let response = try await EchoHandler().handle(jsonRequest("echo", ""))
        #expect(response.payload.isEmpty)
    }

    @Test func builtinsServeTheirOperations() {
        #expect(BuiltinHandlers.all.map(\.operation) == ["echo", "telemetry.summary", "telemetry.anomalies"])
    }
}

@Suite(.timeLimit(.minutes(1)))
struct TelemetrySummaryTests {
    typealias Output = TelemetrySummaryHandler.Output

    func summarise(_ json: String) async throws -> (HandlerResponse, Output) {
        let response = try await TelemetrySummaryHandler().handle(jsonRequest("telemetry.summary", json))
        return (response, try JSONDecoder().decode(Output.self, from: response.payload))
    }

    @Test func knownData() async throws {
        let (response, output) = try await summarise(#"{"sensor":"temp","readings":[2,4,4,4,5,5,7,9]}"#)
        #expect(response.status == 200)
        #expect(response.contentType == "application/json")
        #expect(output == Output(sensor: "temp", count: 8, min: 2, max: 9, mean: 5, stddev: 2))
        #expect(text(response.payload) == #"{"count":8,"max":9,"mean":5,"min":2,"sensor":"temp","stddev":2}"#)
    }

    @Test func fractionalReadings() async throws {
        let (_, output) = try await summarise(#"{"sensor":"t","readings":[21.5,21.7,21.6,-3.25]}"#)
        let readings = [21.5, 21.7, 21.6, -3.25]
        let mean = readings.reduce(0, +) / 4
        let stddev = (readings.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4).squareRoot()
        #expect(output.count == 4)
        #expect(output.min == -3.25)
        #expect(output.max == 21.7)
        #expect(abs(output.mean - mean) < 1e-12)
        #expect(abs(output.stddev - stddev) < 1e-12)
    }

    @Test func oneReadingHasNoSpread() async throws {
        let (_, output) = try await summarise(#"{"sensor":"t","readings":[42]}"#)
        #expect(output == Output(sensor: "t", count: 1, min: 42, max: 42, mean: 42, stddev: 0))
    }

    @Test func sensorIsOptional() async throws {
        let (response, output) = try await summarise(#"{"readings":[1,3]}"#)
        #expect(output.sensor == nil)
        #expect(!text(response.payload).contains("sensor"))
        #expect(output.mean == 2)
        #expect(output.stddev == 1)
    }

    @Test func hugeReadingsDoNotOverflow() async throws {
        let (response, output) = try await summarise(#"{"readings":[1e308,1e308,-1e308,1.7e308]}"#)
        #expect(response.status == 200)
        #expect(output.mean.isFinite && output.stddev.isFinite)
        #expect(abs(output.mean - 0.675e308) / 0.675e308 < 1e-12)
    }

    struct BadInput: Sendable, CustomTestStringConvertible {
        var payload: String
        var message: String
        var exact = true
        var testDescription: String { payload.isEmpty ? "(empty)" : payload }
    }

    static let badInputs: [BadInput] = [
        BadInput(payload: #"{"sensor":"t","readings":[]}"#, message: "readings must not be empty"),
        BadInput(payload: #"{"sensor":"t"}"#, message: #"missing field "readings""#),
        BadInput(payload: #"{"readings":"21.5"}"#, message: "readings: expected an array, found a string"),
        BadInput(payload: #"{"readings":{"a":1}}"#, message: "readings: expected an array, found an object"),
        BadInput(payload: #"{"readings":[1,"2"]}"#, message: "readings[1]: expected a number, found a string"),
        BadInput(payload: #"{"readings":[1,true]}"#, message: "readings[1]: expected a number", exact: false),
        BadInput(payload: #"{"readings":[1,null]}"#, message: "readings[1]: expected a number, found null"),
        BadInput(payload: #"{"sensor":5,"readings":[1]}"#, message: "sensor: expected a string, found a number"),
        BadInput(payload: #"[1,2,3]"#, message: "payload: expected an object, found an array"),
        BadInput(payload: #"{"readings":[1e999]}"#, message: "payload is not valid JSON", exact: false),
        BadInput(payload: #"{"readings":[NaN]}"#, message: "payload is not valid JSON", exact: false),
        BadInput(payload: #"{"readings":[Infinity]}"#, message: "payload is not valid JSON", exact: false),
        BadInput(payload: "readings: 1, 2", message: "payload is not valid JSON", exact: false),
        BadInput(payload: #"{"readings":[1,2"#, message: "payload is not valid JSON", exact: false),
        BadInput(payload: "", message: "payload is empty (expected JSON)"),
    ]

    @Test(arguments: badInputs)
    func badInputIs400(_ bad: BadInput) async throws {
        let error = try await #require(throws: HandlerError.self) {
            try await TelemetrySummaryHandler().handle(jsonRequest("telemetry.summary", bad.payload))
        }
        #expect(error.status == 400)
        #expect(error.code == "bad_request")
        if bad.exact {
            #expect(error.message == bad.message)
        } else {
            #expect(error.message.hasPrefix(bad.message), "\(error.message)")
        }
    }

    @Test func outOfRangeNumberSaysWhy() async throws {
        let error = try await #require(throws: HandlerError.self) {
            try await TelemetrySummaryHandler().handle(jsonRequest("telemetry.summary", #"{"readings":[1e999]}"#))
        }
        #expect(error.message.contains("1e999"), "\(error.message)")
    }

    @Test func badInputThroughThePoolIsAJSONErrorBody() async throws {
        let pool = WorkerPool(handlers: BuiltinHandlers.all, concurrency: 2)
        let result = await pool.perform(request("telemetry.summary", #"{"sensor":"t","readings":[]}"#))
        #expect(result.status == 400)
        #expect(result.contentType == "application/json")
        #expect(try decodeErrorBody(result) == ErrorBody(.badRequest, message: "readings must not be empty"))
        #expect(
            text(result.payload)
                == #"{"error":{"code":"bad_request","message":"readings must not be empty","status":400}}"#)
    }
}

@Suite(.timeLimit(.minutes(1)))
struct TelemetryAnomaliesTests {
    typealias Anomaly = TelemetryAnomaliesHandler.Anomaly

    func anomalies(_ json: String) async throws -> [Anomaly] {
        let response = try await TelemetryAnomaliesHandler().handle(jsonRequest("telemetry.anomalies", json))
        #expect(response.status == 200)
        #expect(response.contentType == "application/json")
        return try JSONDecoder().decode(TelemetryAnomaliesHandler.Output.self, from: response.payload).anomalies
    }

    @Test func findsTheOutlierWithTheDefaultThreshold() async throws {
        // 19 readings of 10 and one of 100: mean 14.5, population stddev sqrt(384.75).
        let readings = Array(repeating: "10", count: 19) + ["100"]
        let found = try await anomalies(#"{"readings":[\#(readings.joined(separator: ","))]}"#)
        #expect(found.count == 1)
        let anomaly = try #require(found.first)
        #expect(anomaly.index == 19)
        #expect(anomaly.value == 100)
        #expect(abs(anomaly.z - 85.5 / 384.75.squareRoot()) < 1e-12)
    }

    @Test func thresholdIsStrict() async throws {
        // Nine 10s and one 50: mean 14, stddev 12, so the 50 has z = 3 exactly.
        let json = #"{"readings":[10,10,10,10,10,10,10,10,10,50]"#
        #expect(try await anomalies(json + "}").isEmpty)
        #expect(try await anomalies(json + #","threshold":3.0}"#).isEmpty)
        let found = try await anomalies(json + #","threshold":2.5}"#)
        #expect(found == [Anomaly(index: 9, value: 50, z: 3)])
    }

    @Test func lowThresholdFlagsBothSides() async throws {
        // Mean 5, stddev 2: z = -1.5, -0.5 x3, 0 x2, 1, 2.
        let found = try await anomalies(#"{"readings":[2,4,4,4,5,5,7,9],"threshold":0.9}"#)
        #expect(found == [Anomaly(index: 0, value: 2, z: -1.5), Anomaly(index: 6, value: 7, z: 1), Anomaly(index: 7, value: 9, z: 2)])
    }

    @Test func flatBatchHasNoAnomalies() async throws {
        #expect(try await anomalies(#"{"readings":[5,5,5,5],"threshold":0.1}"#).isEmpty)
        #expect(try await anomalies(#"{"readings":[7]}"#).isEmpty)
    }

    @Test func replyShape() async throws {
        let response = try await TelemetryAnomaliesHandler().handle(
            jsonRequest("telemetry.anomalies", #"{"readings":[2,4,4,4,5,5,7,9],"threshold":1.9}"#))
        #expect(text(response.payload) == #"{"anomalies":[{"index":7,"value":9,"z":2}]}"#)
    }

    @Test(arguments: [
        (#"{"readings":[1,2],"threshold":0}"#, "threshold must be greater than 0"),
        (#"{"readings":[1,2],"threshold":-1.5}"#, "threshold must be greater than 0"),
        (#"{"readings":[1,2],"threshold":"high"}"#, "threshold: expected a number, found a string"),
        (#"{"readings":[]}"#, "readings must not be empty"),
        (#"{"readings":[],"threshold":2}"#, "readings must not be empty"),
        (#"{"threshold":2}"#, #"missing field "readings""#),
        (#"{"readings":["a"]}"#, "readings[0]: expected a number, found a string"),
    ])
    func badInputIs400(_ payload: String, _ message: String) async throws {
        let error = try await #require(throws: HandlerError.self) {
            try await TelemetryAnomaliesHandler().handle(jsonRequest("telemetry.anomalies", payload))
        }
        #expect(error == HandlerError.badRequest(message))
    }
}
