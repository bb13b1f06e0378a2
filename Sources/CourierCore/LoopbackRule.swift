import Foundation

/// The rule that keeps an HTTP API without tokens private to its machine: it may listen only on
/// a loopback address.
package enum LoopbackRule {
    /// Whether `host` (as `http.address` writes it: a name, an IPv4 address or a bracketed IPv6
    /// address) is loopback only: `localhost`, `127.0.0.0/8`, `::1` (or `::ffff:127.x.x.x`).
    /// Every other name, and the wildcard addresses `0.0.0.0` and `::`, are not.
    package static func isLoopback(host: String) -> Bool {
        var host = Substring(host)
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered == "localhost." { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, lowered, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { $0[0] } == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, lowered, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            let loopback = bytes[0..<15].allSatisfy { $0 == 0 } && bytes[15] == 1
            let mappedV4 = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff && bytes[12] == 127
            return loopback || mappedV4
        }
        return false
    }

    /// The host of a `HOST:PORT` address (brackets kept around IPv6).
    package static func host(ofAddress address: String) -> String {
        guard let colon = address.lastIndex(of: ":"), !address.hasSuffix("]") else { return address }
        return String(address[..<colon])
    }

    /// Why an API at `address` cannot run without tokens; nil when it can (a loopback address).
    package static func problem(address: String) -> String? {
        guard !isLoopback(host: host(ofAddress: address)) else { return nil }
        return "\"\(address)\" is not a loopback address, and without tokens anyone who can reach the HTTP API could "
            + "submit, cancel and replay requests: set http.tokens (or COURIER_HTTP_TOKENS_FILE) to a token file, "
            + "or listen on 127.0.0.1"
    }
}
