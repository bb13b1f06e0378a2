import CourierCore
import CourierWorkers
import Foundation
import MQTT
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
        let result = await pool.perform(workItem("greet", #"{"name":"Ada"}"#))
        #expect(result == WorkResult(
            status: 200, payload: Data(#"{"greeting":"Hello, Ada, from d1"}"#.utf8), contentType: "application/json"))
    }

    @Test func itsOwnChecksAnswer400() async throws {
        let pool = WorkerPool(handlers: [Greet()], concurrency: 1)
        let result = await pool.perform(workItem("greet", #"{"name":""}"#))
        #expect(result.status == 400)
        #expect(try decodeErrorBody(result).error.message == "name must not be empty")
    }

    @Test func decodingErrorsNameTheField() async throws {
        let error = try await #require(throws: HandlerError.self) {
            try await Greet().handle(request("greet", #"{"nom":"Ada"}"#))
        }
        #expect(error == .badRequest(#"missing field "name""#))
    }

    @Test func unencodableOutputIsAWorkerError() async throws {
        let pool = WorkerPool(handlers: [NotANumber()], concurrency: 1)
        let result = await pool.perform(workItem("nan", "{}"))
        #expect(result.status == 500)
        let body = try decodeErrorBody(result)
        #expect(body.error.code == "worker_error")
        #expect(body.error.message.hasPrefix("the reply could not be encoded as JSON: value holds nan"), "\(body)")
    }

    @Test func requestCarriesTheWorkItem() {
        let item = WorkItem(
            requestID: "abc", device: "d9", operation: "op", attempt: 2, deadline: 1_700_000_000_000,
            payload: Data([1, 2]), contentType: "application/cbor", payloadFormatIndicator: 0,
            userProperties: [UserProperty("traceparent", "00-1-2-01"), UserProperty("k", "v")])
        let request = HandlerRequest(item)
        #expect(request.requestID == "abc")
        #expect(request.device == "d9")
        #expect(request.operation == "op")
        #expect(request.attempt == 2)
        #expect(request.deadline == 1_700_000_000_000)
        #expect(request.payload == Data([1, 2]))
        #expect(request.contentType == "application/cbor")
        #expect(request.payloadFormatIndicator == 0)
        #expect(request.userProperties == item.userProperties)
        #expect(request.timeLeft(now: Date(timeIntervalSince1970: 1_699_999_999)) == .seconds(1))
    }
}
