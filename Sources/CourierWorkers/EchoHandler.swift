/// `echo`: answers with the same bytes and content type it was sent.
public struct EchoHandler: OperationHandler {
    public let operation = "echo"
    /// Copies a reference and returns: nothing to wait for.
    public let startsImmediately = true

    public init() {}

    public func handle(_ request: HandlerRequest) async throws -> HandlerResponse {
        HandlerResponse(payload: request.payload, contentType: request.contentType)
    }
}
