/// What a bearer token of the HTTP API may do.
package enum AccessScope: String, Sendable, CaseIterable {
    /// Reading: request status and results, the request and dead-letter lists, metrics (every
    /// `GET`).
    case read
    /// Everything: reading, and submitting, cancelling and replaying requests.
    case write

    /// Whether a token of this scope may make a call that needs `required`.
    package func grants(_ required: AccessScope) -> Bool {
        self == .write || required == .read
    }
}

/// One bearer token of the HTTP API, as its token file gives it.
///
/// The secret never shows in a description, a dump or a message: only the scope, the name and
/// the line do.
package struct AccessToken: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    package var scope: AccessScope
    /// The token's bytes, as a client sends them after `Authorization: Bearer `.
    package var secret: [UInt8]
    /// Who holds it, for logs: the optional third field of its line.
    package var name: String?
    /// Its line in the token file (from 1); 0 for a token made in code.
    package var line: Int

    package init(scope: AccessScope, secret: String, name: String? = nil, line: Int = 0) {
        self.scope = scope
        self.secret = Array(secret.utf8)
        self.name = name
        self.line = line
    }

    /// How logs name the token: its name, else its line.
    package var label: String { name ?? "line \(line)" }

    package var description: String { "\(scope.rawValue) token \(label)" }

    package var customMirror: Mirror {
        Mirror(self, children: ["scope": scope, "name": name as Any, "line": line, "secret": "<redacted>"])
    }
}

/// The bearer tokens of the HTTP API, read from the file `http.tokens` names.
///
/// The file has one token per line, `SCOPE TOKEN [NAME]`, fields separated by spaces or tabs:
///
/// ```
/// # who may call the Courier HTTP API
/// read  3f9c1e...   grafana
/// write 8d02ab...   ops-cli
/// ```
///
/// - `SCOPE` is `read` (every `GET`: status, results, lists, metrics) or `write` (everything);
/// - `TOKEN` is at least ``minimumLength`` of the characters `A-Z a-z 0-9 - . _ ~ + /`, then
///   optional `=` padding (RFC 6750's `b64token`; `openssl rand -hex 32` makes one), and unique
///   in the file;
/// - `NAME`, optional, says whose it is in logs (`[A-Za-z0-9_.-]{1,64}`).
///
/// Blank lines are ignored, and so is everything from a field that starts with `#`. A file without any token is an error: it
/// would lock everyone out.
package struct AccessTokens: Sendable, Equatable {
    package var tokens: [AccessToken]

    package init(_ tokens: [AccessToken]) {
        self.tokens = tokens
    }

    /// The shortest token accepted: 16 characters.
    package static let minimumLength = 16

    /// The longest token accepted: 4096 characters.
    package static let maximumLength = 4096

    /// Parses the text of a token file. A problem is a ``ConfigError`` with `file` and the line,
    /// whose message never repeats what the line holds (it may hold a secret).
    package static func parse(_ text: String, file: String?) throws(ConfigError) -> AccessTokens {
        var tokens: [AccessToken] = []
        var lineOfSecret: [[UInt8]: Int] = [:]
        // "\r\n" is one Character: a file with Windows line ends splits on it too.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (index, rawLine) in lines.enumerated() {
            let number = index + 1
            func problem(_ message: String) -> ConfigError {
                ConfigError(file: file, line: number, key: "", message: message)
            }
            // A field starting with # starts a comment that runs to the end of the line.
            let fields = Array(rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).prefix { !$0.hasPrefix("#") })
            guard let first = fields.first else { continue }
            guard let scope = AccessScope(rawValue: String(first)) else {
                throw problem("a line starts with its scope, read or write (write SCOPE TOKEN [NAME])")
            }
            guard fields.count >= 2 else { throw problem("the \(scope.rawValue) scope has no token after it (write SCOPE TOKEN [NAME])") }
            guard fields.count <= 3 else { throw problem("more than three fields (write SCOPE TOKEN [NAME])") }
            let secret = String(fields[1])
            if let reason = tokenProblem(secret) { throw problem("the token \(reason)") }
            var name: String?
            if fields.count == 3 {
                let text = String(fields[2])
                guard Topics.isValidID(text) else {
                    throw problem("the name is not 1 to 64 of the characters A-Z a-z 0-9 _ . -")
                }
                name = text
            }
            let token = AccessToken(scope: scope, secret: secret, name: name, line: number)
            if let earlier = lineOfSecret[token.secret] {
                throw problem("the same token is already on line \(earlier); give every client its own")
            }
            lineOfSecret[token.secret] = number
            tokens.append(token)
        }
        guard !tokens.isEmpty else {
            throw ConfigError(file: file, key: "", message: "has no tokens, which would refuse every call (write one per line: SCOPE TOKEN [NAME])")
        }
        return AccessTokens(tokens)
    }

    /// What is wrong with a token, worded to follow "the token"; nil when it is fine.
    static func tokenProblem(_ secret: String) -> String? {
        let bytes = Array(secret.utf8)
        guard bytes.count >= minimumLength else { return "is shorter than \(minimumLength) characters" }
        guard bytes.count <= maximumLength else { return "is longer than \(maximumLength) characters" }
        let body = bytes.prefix { $0 != UInt8(ascii: "=") }
        let padding = bytes.dropFirst(body.count)
        guard !body.isEmpty, body.allSatisfy(isTokenCharacter), padding.allSatisfy({ $0 == UInt8(ascii: "=") }) else {
            return "has characters other than A-Z a-z 0-9 - . _ ~ + / (and = at its end)"
        }
        return nil
    }

    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"):
            true
        default:
            false
        }
    }
}
