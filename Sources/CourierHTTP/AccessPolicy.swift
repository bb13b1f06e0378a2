import CourierCore
import HTTPTypes

/// Who may make which call of the HTTP API: the scope a call needs, and what the bearer token a
/// request carries grants. Plain values in, a ``Decision`` out; ``BearerAuthMiddleware`` carries
/// it out.
///
/// - `/healthz` and `/readyz` are open to everyone (probes carry no token);
/// - `GET` and `HEAD` need a `read` token (status, results, lists, metrics, and any read added
///   later);
/// - every other method needs a `write` token (submit, cancel, replay).
///
/// Tokens are compared in constant time, and every configured token is compared, so the time an
/// answer takes says nothing about how much of a token was right or which one matched.
struct AccessPolicy: Sendable {
    /// What to do with a request.
    enum Decision: Equatable, Sendable {
        /// An open route: no token needed.
        case open
        /// The token grants the scope the call needs.
        case allowed(AccessToken)
        /// No `Authorization: Bearer` header (or another scheme): 401.
        case missingToken
        /// A bearer token that is not in the file: 401.
        case invalidToken
        /// A valid token without the scope the call needs: 403.
        case insufficientScope(AccessToken, required: AccessScope)
    }

    /// The paths anyone may call.
    static let openPaths: Set<String> = ["/healthz", "/readyz"]

    let tokens: AccessTokens

    init(tokens: AccessTokens) {
        self.tokens = tokens
    }

    /// The scope a call needs; nil for an open one.
    static func requiredScope(method: HTTPRequest.Method, path: String) -> AccessScope? {
        if openPaths.contains(path) { return nil }
        return method == .get || method == .head ? .read : .write
    }

    /// The decision for a request: its method, its path and its `Authorization` header values.
    func decide(method: HTTPRequest.Method, path: String, authorization: [String]) -> Decision {
        guard let required = Self.requiredScope(method: method, path: path) else { return .open }
        guard authorization.count == 1, let presented = Self.bearerToken(authorization[0]) else { return .missingToken }
        guard let token = token(matching: presented) else { return .invalidToken }
        return token.scope.grants(required) ? .allowed(token) : .insufficientScope(token, required: required)
    }

    /// The token of an `Authorization` value of the Bearer scheme (RFC 6750: the scheme name in
    /// any case, one or more spaces, the token); nil for another scheme or no token.
    static func bearerToken(_ value: String) -> [UInt8]? {
        let bytes = Array(value.utf8)
        let scheme = Array("bearer".utf8)
        guard bytes.count > scheme.count, bytes[0..<scheme.count].map({ $0 | 0x20 }) == scheme, bytes[scheme.count] == UInt8(ascii: " ") else {
            return nil
        }
        let token = bytes[scheme.count...].drop { $0 == UInt8(ascii: " ") }
        // Trailing white space is not part of the token (some clients add it).
        let trimmed = token.reversed().drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }.reversed()
        return trimmed.isEmpty ? nil : Array(trimmed)
    }

    /// The configured token equal to `presented`, comparing against every one of them in
    /// constant time.
    func token(matching presented: [UInt8]) -> AccessToken? {
        guard presented.count <= AccessTokens.maximumLength else { return nil }
        var match: AccessToken?
        for token in tokens.tokens where Self.constantTimeEquals(presented, token.secret) {
            match = token
        }
        return match
    }

    /// Whether two byte strings are equal, taking a time that depends only on the length of
    /// `presented` (the client's, which it knows): never stops at the first difference and
    /// reads `secret` cyclically, so neither its content nor its length shows in the timing.
    static func constantTimeEquals(_ presented: [UInt8], _ secret: [UInt8]) -> Bool {
        guard !secret.isEmpty, !presented.isEmpty else { return false }
        var difference: UInt8 = presented.count == secret.count ? 0 : 1
        var index = 0
        for byte in presented {
            difference |= byte ^ secret[index]
            index += 1
            if index == secret.count { index = 0 }
        }
        return difference == 0
    }
}
