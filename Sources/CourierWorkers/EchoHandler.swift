/// `echo`: answers with the same bytes and content type it was sent.
public struct EchoHandler: OperationHandler {
    public let operation = "echo"

    public init() {}

    public func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        HandlerResponse(payload: request.payload, contentType: request.contentType)
    }
}
