import CourierCore
import CourierWorkers
import Foundation

/// `handlers`: the first byte picks a built-in handler (`e` echo, `s` telemetry.summary, `a`
/// telemetry.anomalies, any other byte modulo 3), the rest is the payload.
///
/// A handler must answer 200 with what its documentation promises, or throw a 400
/// ``HandlerError`` with a message; anything else (another error, another status, output that
/// is not the JSON it documents, numbers that cannot be) is a failure.
enum HandlersFuzz {
    static func run(_ input: Data) async throws(FuzzFailure) {
        guard let selector = input.first else { return }
        let payload = Data(input.dropFirst())
        let request = HandlerRequest(
            requestID: "fuzz", device: "d1", operation: "", deadline: .max, payload: payload,
            contentType: "application/json")
        switch selector {
        case UInt8(ascii: "e"): try await echo(request)
        case UInt8(ascii: "s"): try await summary(request)
        case UInt8(ascii: "a"): try await anomalies(request)
        default:
            switch selector % 3 {
            case 0: try await echo(request)
            case 1: try await summary(request)
            default: try await anomalies(request)
            }
        }
    }

    static func echo(_ request: HandlerRequest) async throws(FuzzFailure) {
        guard let response = try await answer(EchoHandler(), request) else { return }
        try require(response.status == 200 && response.payload == request.payload && response.contentType == request.contentType, .handlers, "echo changed the message")
    }

    static func summary(_ request: HandlerRequest) async throws(FuzzFailure) {
        typealias Handler = TelemetrySummaryHandler
        guard let response = try await answer(Handler(), request) else { return }
        let input = try decode(Handler.Input.self, request.payload, "its request")
        let output = try decode(Handler.Output.self, response.payload, "its reply")
        let readings = input.readings
        try require(output.sensor == input.sensor && output.count == readings.count, .handlers, "summary of \(readings.count) readings says \(output.count)")
        try require(output.min == readings.min() && output.max == readings.max(), .handlers, "summary extremes \(output.min), \(output.max) of \(readings)")
        try require(output.min <= output.mean && output.mean <= output.max, .handlers, "summary mean \(output.mean) outside [\(output.min), \(output.max)]")
        // A population standard deviation is at most half the range.
        let halfRange = (output.max / 2 - output.min / 2)
        let rounding = 4 * Swift.max(output.min.magnitude, output.max.magnitude).ulp
        try require(output.stddev.isFinite && output.stddev >= 0 && output.stddev <= halfRange * (1 + 1e-9) + rounding, .handlers, "summary stddev \(output.stddev) for the range [\(output.min), \(output.max)]")
    }

    static func anomalies(_ request: HandlerRequest) async throws(FuzzFailure) {
        typealias Handler = TelemetryAnomaliesHandler
        guard let response = try await answer(Handler(), request) else { return }
        let input = try decode(Handler.Input.self, request.payload, "its request")
        let output = try decode(Handler.Output.self, response.payload, "its reply")
        let threshold = input.threshold ?? Handler.defaultThreshold
        // Samuelson's inequality: no value lies more than sqrt(n - 1) deviations from the mean.
        let bound = Double(input.readings.count - 1).squareRoot() * (1 + 1e-9)
        if let first = input.readings.first, input.readings.allSatisfy({ $0 == first }) {
            try require(output.anomalies.isEmpty, .handlers, "a batch that does not vary has anomalies: \(output.anomalies)")
        }
        var previous = -1
        for anomaly in output.anomalies {
            try require(anomaly.index > previous && anomaly.index < input.readings.count, .handlers, "anomaly index \(anomaly.index) out of order or range")
            previous = anomaly.index
            try require(anomaly.value == input.readings[anomaly.index], .handlers, "anomaly value \(anomaly.value) is not readings[\(anomaly.index)]")
            try require(anomaly.z.isFinite && anomaly.z.magnitude > threshold && anomaly.z.magnitude <= bound, .handlers, "anomaly z \(anomaly.z) with threshold \(threshold), bound \(bound)")
        }
    }

    /// The handler's response, or nil when it refused the request as a device's mistake should be.
    static func answer(_ handler: some OperationHandler, _ request: HandlerRequest) async throws(FuzzFailure) -> HandlerResponse? {
        do {
            return try await handler.handle(request)
        } catch let error as HandlerError {
            try require(error.status == 400 && error.code == "bad_request" && !error.message.isEmpty, .handlers, "\(handler.operation) failed with \(error)")
            return nil
        } catch {
            throw FuzzFailure(.handlers, "\(handler.operation) threw \(error)")
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data, _ what: String) throws(FuzzFailure) -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw FuzzFailure(.handlers, "answered 200 but \(what) does not decode as \(type): \(error)")
        }
    }
}
