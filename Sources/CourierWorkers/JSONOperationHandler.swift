import CourierCore
import Foundation

/// A handler that takes JSON and answers JSON, written as one typed function.
///
/// The payload is decoded into `Input`; when it does not fit, the device gets 400 `bad_request`
/// with a message that names the field and the problem (`readings[2]: expected a number, found
/// a string`). The returned `Output` is encoded as `application/json` with status 200. Throw a
/// ``HandlerError`` for any other answer, e.g. a value that decodes but makes no sense.
///
/// A complete handler:
///
/// ```swift
/// struct Greet: JSONOperationHandler {
///     struct Input: Decodable, Sendable { var name: String }
///     struct Output: Encodable, Sendable { var greeting: String }
///
///     let operation = "greet"
///
///     func handle(_ input: Input, request: HandlerRequest) async throws -> Output {
///         guard !input.name.isEmpty else { throw HandlerError.badRequest("name must not be empty") }
///         return Output(greeting: "Hello, \(input.name), from \(request.device)")
///     }
/// }
/// ```
///
/// Serve it by handing it to the worker pool with the built-in ones:
/// `WorkerPool(handlers: BuiltinHandlers.all + [Greet()], concurrency: 8)`, and configure the
/// operation (`- name: greet` with `content: json`) in `Config/courier.yaml`.
public protocol JSONOperationHandler: OperationHandler {
    associatedtype Input: Decodable & Sendable
    associatedtype Output: Encodable & Sendable

    /// Answers one decoded request.
    func handle(_ input: Input, request: HandlerRequest) async throws -> Output
}

extension JSONOperationHandler {
    /// Decodes the payload, calls ``handle(_:request:)`` and encodes its output.
    public func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        let input = try JSONCoding.decode(Input.self, from: request.payload)
        let output = try await handle(input, request: request)
        do {
            return try .json(output)
        } catch let error as EncodingError {
            throw HandlerError.workerError("the reply could not be encoded as JSON: \(Self.describe(error))")
        }
    }

    private static func describe(_ error: EncodingError) -> String {
        switch error {
        case .invalidValue(let value, let context):
            "\(JSONCoding.path(context.codingPath, root: "reply")) holds \(value), which JSON cannot represent"
        @unknown default:
            "\(error)"
        }
    }
}
