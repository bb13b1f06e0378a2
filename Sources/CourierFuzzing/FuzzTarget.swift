import Foundation

/// The fuzz targets over what parses device (and operator) input. Each turns one byte string
/// into a call of the code under test and checks what came back against invariants of the
/// contract; a broken invariant throws ``FuzzFailure``, a crash is a crash.
///
/// The same code runs under libFuzzer (`Fuzz/`, `Scripts/fuzz.sh`) and, over the committed
/// corpus in `Fuzz/Corpus/{target}/`, in `CourierFuzzTests`.
@_spi(Fuzzing) public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `Topics.parseRequest`, `Topics.isValidID`, `Topics.isAllowedResponseTopic`. Input: the
    /// request topic, a newline, the Response Topic.
    case topics
    /// `RequestIntake.evaluate`. Input: the request topic, then `key: value` lines
    /// (`response-topic`, `correlation`, `correlation-hex`, `expiry`, `content-type`, `format`,
    /// `user` as `name=value`, `qos`), an empty line, the payload.
    case intake
    /// The built-in handlers. Input: one byte choosing the handler (`e` echo, `s`
    /// telemetry.summary, `a` telemetry.anomalies; any other byte modulo 3), the payload.
    case handlers
    /// `ConfigLoader.parse(yaml:file:)`. Input: the YAML text.
    case config
    /// `DeviceProfile.parse(yaml:file:)`. Input: the YAML text.
    case profile

    /// Whether ``runSynchronously(_:)`` can run this target (all but `handlers`, whose
    /// handlers are `async`).
    @_spi(Fuzzing) public var isSynchronous: Bool { self != .handlers }

    /// Runs one input.
    @_spi(Fuzzing) public func run(_ input: Data) async throws(FuzzFailure) {
        switch self {
        case .handlers: try await HandlersFuzz.run(input)
        default: try runSynchronously(input)
        }
    }

    /// Runs one input of a synchronous target (see ``isSynchronous``) without a task.
    @_spi(Fuzzing) public func runSynchronously(_ input: Data) throws(FuzzFailure) {
        switch self {
        case .topics: try TopicsFuzz.run(input)
        case .intake: try IntakeFuzz.run(input)
        case .config: try ConfigFuzz.run(input)
        case .profile: try ProfileFuzz.run(input)
        case .handlers: preconditionFailure("handlers are async: use run(_:)")
        }
    }
}

/// An invariant that did not hold for one input.
@_spi(Fuzzing) public struct FuzzFailure: Error, CustomStringConvertible, Sendable {
    @_spi(Fuzzing) public var target: FuzzTarget
    @_spi(Fuzzing) public var message: String

    @_spi(Fuzzing) public init(_ target: FuzzTarget, _ message: String) {
        self.target = target
        self.message = message
    }

    @_spi(Fuzzing) public var description: String { "\(target.rawValue): \(message)" }
}

/// Throws a failure of `target` unless `condition` holds.
func require(_ condition: Bool, _ target: FuzzTarget, _ message: @autoclosure () -> String) throws(FuzzFailure) {
    if !condition { throw FuzzFailure(target, message()) }
}

/// Text the way a transport hands it over: bytes that are not UTF-8 become U+FFFD, as an MQTT
/// client never delivers invalid UTF-8 in a topic or string property.
func text<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
    String(decoding: bytes, as: UTF8.self)
}

/// `data` cut at the first `separator`: what comes before it, and after it (nil without one).
func splitOnce(_ data: Data, at separator: [UInt8]) -> (head: Data, rest: Data?) {
    guard let range = data.firstRange(of: separator) else { return (data, nil) }
    return (data[data.startIndex..<range.lowerBound], data[range.upperBound...])
}
