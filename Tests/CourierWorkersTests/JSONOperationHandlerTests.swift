import CourierCore
import CourierWorkers
import Foundation
import Testing

/// The example from `JSONOperationHandler`'s documentation, kept compiling here.
struct Greet: JSONOperationHandler {
    struct Input: Decodable, Sendable { var name: String }
    struct Output: Encodable, Sendable { var greeting: String }

    let operation = "greet"

    func handle(_ input: Input, request: HandlerRequest) async throws -> Output {
        guard !input.name.isEmpty else { throw HandlerError.badRequest("name must not be empty") }
        return Output(greeting: "Hello, \(input.name), from \(request.device)")
    }
}

/// A handler whose output JSON cannot hold.
struct NotANumber: JSONOperationHandler {
    struct Input: Decodable, Sendable {}
    struct Output: Encodable, Sendable { var value: Double }

    let operation = "nan"

    func handle(_ input: Input, request: HandlerRequest) async throws -> Output {
        Output(value: .nan)
    }
}

@Suite(.timeLimit(.minutes(1)))
struct JSONOperationHandlerTests {
    @Test func aNewHandlerIsAFewLines() async throws {
        let pool = WorkerPool(handlers: BuiltinHandlers.all + [Greet()], concurrency: 1)
        #expect(pool.operations == ["echo", "greet", "telemetry.anomalies", "telemetry.summary"])
        let result = await pool.perform(request("greet", #"{"name":"Ada"}"#))
        #expect(result == HandlerResponse(
            status: 200, payload: Data(#"{"greeting":"Hello, Ada, from d1"}"#.utf8), contentType: "application/json"))
    }

    @Test func itsOwnChecksAnswer400() async throws {
        let pool = WorkerPool(handlers: [Greet()], concurrency: 1)
        let result = await pool.perform(request("greet", #"{"name":""}"#))
        #expect(result.status == 400)
        #expect(try decodeErrorBody(result).error.message == "name must not be empty")
    }

    @Test func decodingErrorsNameTheField() async throws {
        let error = try await #require(throws: HandlerError.self) {
            try await Greet().handle(jsonRequest("greet", #"{"nom":"Ada"}"#))
        }
        #expect(error == .badRequest(#"missing field "name""#))
    }

    @Test func unencodableOutputIsAWorkerError() async throws {
        let pool = WorkerPool(handlers: [NotANumber()], concurrency: 1)
        let result = await pool.perform(request("nan", "{}"))
        #expect(result.status == 500)
        let body = try decodeErrorBody(result)
        #expect(body.error.code == "worker_error")
        #expect(body.error.message.hasPrefix("the reply could not be encoded as JSON: value holds nan"), "\(body)")
    }

    @Test func timeLeftCountsDownToTheDeadline() {
        let request = HandlerRequest(device: "d9", operation: "op", deadline: 1_700_000_000_000, payload: Data())
        #expect(request.timeLeft(now: Date(timeIntervalSince1970: 1_699_999_999)) == .seconds(1))
        #expect(request.timeLeft(now: Date(timeIntervalSince1970: 1_700_000_002)) == .seconds(-2))
    }
}
