import Foundation

/// Where a PostgreSQL store lives: `postgres://USER[:PASSWORD]@HOST[:PORT][/DATABASE]`
/// (`postgresql://` too), with percent-encoding for special characters in the user name and
/// password. The port defaults to 5432 and the database to the user name, as libpq's do.
///
/// Its description leaves the password out, so that interpolating it into a log line or an
/// error message never shows it.
package struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    package var host: String
    package var port: Int
    package var username: String
    package var password: String?
    package var database: String

    package static let schemes = ["postgres://", "postgresql://"]

    package init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses a URL as written in `store.url`.
    package init(parsing text: String) throws(StoreURLError) {
        let shown = "\"\(Self.redacted(text))\""
        let hint = "(write postgres://USER:PASSWORD@HOST:PORT/DATABASE)"
        func problem(_ what: String) -> StoreURLError { StoreURLError(message: "\(shown) \(what) \(hint)") }
        guard Self.schemes.contains(where: { text.lowercased().hasPrefix($0) }) else {
            throw problem("must start with postgres:// or postgresql://")
        }
        guard let components = URLComponents(string: text) else {
            throw problem("is not a URL (percent-encode special characters in the user name and password)")
        }
        guard let username = components.user, !username.isEmpty else { throw problem("has no user name") }
        var host = components.host ?? ""
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw problem("has no host") }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw problem("has an invalid port \(port)") }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.contains("/") else { throw problem("has more than a database name after the host") }
        guard components.query == nil, components.fragment == nil else {
            throw problem("has options after ? or #, which Courier does not take")
        }
        self.init(host: host, port: port, username: username, password: components.password, database: path.isEmpty ? username : path)
    }

    /// `postgres://USER@HOST:PORT/DATABASE`, without the password.
    package var description: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "postgres://\(username)@\(host):\(port)/\(database)"
    }

    /// The URL with its password, percent-encoded so that ``init(parsing:)`` reads it back: for
    /// handing the store to a child process (through its environment, never its arguments).
    /// Never log it.
    package var urlWithPassword: String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        func encoded(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text }
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        let credentials = encoded(username) + (password.map { ":" + encoded($0) } ?? "")
        return "postgres://\(credentials)@\(host):\(port)/\(encoded(database))"
    }

    /// `text` with whatever stands between the user name's `:` and the last `@` replaced by
    /// `***`: a URL that could not be parsed, quoted in an error, shows no password either.
    package static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text.lastIndex(of: "@"), at > scheme.upperBound,
            let colon = text[scheme.upperBound..<at].firstIndex(of: ":")
        else { return text }
        return text[...colon] + "***" + text[at...]
    }
}

/// Why a `store.url` was refused; the message quotes the URL without its password.
package struct StoreURLError: Error, Sendable {
    package var message: String
}
