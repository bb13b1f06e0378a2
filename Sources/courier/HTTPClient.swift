import ArgumentParser
import CourierCore
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The `--api` and `--token-file` options of the operator commands.
struct APIOptions: ParsableArguments {
    @Option(name: .long, help: "Base URL of the bridge's HTTP API.")
    var api: String = "http://127.0.0.1:8080"

    @Option(
        name: .customLong("token-file"),
        help: "File whose first line is the bearer token for the API (else COURIER_TOKEN; none for an API without tokens)."
    )
    var tokenFile: String?

    func validate() throws {
        guard let url = URL(string: api), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ValidationError("--api must be an http:// or https:// URL, like http://127.0.0.1:8080")
        }
    }

    /// A client of `--api` with the token of `--token-file`, else of `COURIER_TOKEN`.
    func client(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> APIClient {
        APIClient(base: api, token: try APIToken.read(file: tokenFile, environment: environment))
    }
}

/// The bearer token an operator command sends. It is never printed: errors name the file or the
/// variable it came from, not what it holds.
enum APIToken {
    /// The first line of `file` (white space trimmed) when given, else `COURIER_TOKEN`; nil when
    /// neither is set.
    static func read(file: String?, environment: [String: String]) throws -> String? {
        guard let file else {
            guard let value = environment["COURIER_TOKEN"]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
                return nil
            }
            try check(value, source: "COURIER_TOKEN")
            return value
        }
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            var isDirectory: ObjCBool = false
            let reason =
                !FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) ? "no such file"
                : isDirectory.boolValue ? "it is a directory"
                : !FileManager.default.isReadableFile(atPath: file) ? "permission denied" : error.localizedDescription
            throw APIClientError.token("cannot read --token-file \"\(file)\": \(reason)")
        }
        let firstLine = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let token = firstLine.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw APIClientError.token("the first line of --token-file \"\(file)\" is empty") }
        try check(token, source: "--token-file \"\(file)\"")
        return token
    }

    /// A token is one word of printable ASCII, so that it fits in a header as it is.
    private static func check(_ token: String, source: String) throws {
        guard token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
            throw APIClientError.token("\(source) must hold just the token, one word of printable ASCII (not a line of the server's token file)")
        }
    }
}

/// A small client of the bridge's HTTP API over Foundation's `URLSession`.
struct APIClient: Sendable {
    /// The base URL without a trailing slash.
    let base: String
    /// Sent as `Authorization: Bearer` when set.
    private let token: String?

    init(base: String, token: String? = nil) {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
        self.token = token
    }

    /// One answer: status, headers (names lowercased) and body.
    struct Answer: Sendable {
        var status: Int
        var headers: [String: String]
        var body: Data

        func header(_ name: String) -> String? { headers[name.lowercased()] }

        func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
            do {
                return try JSONDecoder().decode(T.self, from: body)
            } catch {
                throw APIClientError.unreadable(status: status, detail: "\(error)")
            }
        }
    }

    /// Sends `method path?query` and returns the answer, whatever its status; throws only when
    /// the API cannot be reached.
    func send(_ method: String, _ path: String, query: [(String, String?)] = []) async throws -> Answer {
        guard var components = URLComponents(string: base + path) else { throw APIClientError.badURL(base + path) }
        let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        if !items.isEmpty { components.queryItems = items }
        guard let url = components.url else { throw APIClientError.badURL(base + path) }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw APIClientError.unreachable(base, detail: error.localizedDescription)
        }
        guard let http = response as? HTTPURLResponse else { throw APIClientError.unreadable(status: 0, detail: "not an HTTP answer") }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        return Answer(status: http.statusCode, headers: headers, body: data)
    }

    /// ``send(_:_:query:)``, throwing the API's error for any status but `expected`.
    func expect(_ expected: Set<Int>, _ method: String, _ path: String, query: [(String, String?)] = []) async throws -> Answer {
        let answer = try await send(method, path, query: query)
        guard expected.contains(answer.status) else {
            if let error = try? JSONDecoder().decode(ErrorBody.self, from: answer.body) {
                throw APIClientError.refused(error.error)
            }
            throw APIClientError.unreadable(status: answer.status, detail: String(decoding: answer.body.prefix(200), as: UTF8.self))
        }
        return answer
    }

    /// A path segment with everything but unreserved characters percent-encoded.
    static func segment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// Why an operator command failed.
enum APIClientError: Error, CustomStringConvertible {
    case badURL(String)
    case unreachable(String, detail: String)
    case refused(ErrorBody.Detail)
    case unreadable(status: Int, detail: String)
    case token(String)

    var description: String {
        switch self {
        case .badURL(let url): "cannot make a URL of \(url)"
        case .unreachable(let base, let detail): "cannot reach the Courier API at \(base) (is the bridge running? see --api): \(detail)"
        case .refused(let error) where error.status == 401:
            "\(error.status) \(error.code): \(error.message) (give a token with --token-file FILE or COURIER_TOKEN)"
        case .refused(let error): "\(error.status) \(error.code): \(error.message)"
        case .unreadable(let status, let detail): "unexpected answer (HTTP \(status)): \(detail)"
        case .token(let problem): problem
        }
    }
}

// MARK: Output

/// Plain-text output for people: aligned tables, times, JSON re-indented.
enum Output {
    /// Columns padded to their widest cell, two spaces apart; the last column is not padded.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.indices.map { column in
                column == row.count - 1 ? row[column] : row[column].padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// `label  value` lines, labels aligned.
    static func fields(_ pairs: [(String, String)]) -> String {
        let width = pairs.map(\.0.count).max() ?? 0
        return pairs.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    /// Unix milliseconds as ISO 8601 UTC to the millisecond: `2026-01-31T09:15:02.123Z`.
    static func time(_ millis: Int64?) -> String {
        guard let millis else { return "-" }
        // Whole seconds through the formatter, milliseconds by integer arithmetic: a Double
        // of unix seconds cannot hold every millisecond exactly.
        let (seconds, fraction) = millis.quotientAndRemainder(dividingBy: 1000)
        let whole = Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(Date.ISO8601FormatStyle())
        return String(whole.dropLast()) + "." + String(String(fraction + 1000).dropFirst()) + "Z"
    }

    /// The API's JSON, indented with sorted keys; the bytes as they came if they are not JSON.
    static func prettyJSON(_ data: Data) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
            let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return String(decoding: data, as: UTF8.self) }
        return String(decoding: pretty, as: UTF8.self)
    }
}
