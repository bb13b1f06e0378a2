import Foundation

/// A throwaway CA with a server certificate for 127.0.0.1/localhost and a client certificate,
/// made with `openssl` in a temporary directory.
package struct TestCertificates: Sendable {
    package let directory: URL
    package var caFile: String { directory.appendingPathComponent("ca.crt").path }
    package var serverCertFile: String { directory.appendingPathComponent("server.crt").path }
    package var serverKeyFile: String { directory.appendingPathComponent("server.key").path }
    package var clientCertFile: String { directory.appendingPathComponent("client.crt").path }
    package var clientKeyFile: String { directory.appendingPathComponent("client.key").path }

    /// Generates the CA and both certificates (RSA 2048, one day).
    package static func generate(clientName: String = "test-client") async throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certs = TestCertificates(directory: directory)
        let dir = directory.path
        try await openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Courier Test CA",
                           "-keyout", "\(dir)/ca.key", "-out", certs.caFile])
        for (name, subject) in [("server", "localhost"), ("client", clientName)] {
            try await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=\(subject)",
                               "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).csr"])
            let ext = "\(dir)/\(name).ext"
            try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(toFile: ext, atomically: true, encoding: .utf8)
            try await openssl(["x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", certs.caFile, "-CAkey", "\(dir)/ca.key",
                               "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", "\(dir)/\(name).crt"])
        }
        return certs
    }

    private static func openssl(_ arguments: [String]) async throws {
        let result = try await Command.run("openssl", arguments)
        guard result.status == 0 else { throw FixtureError.commandFailed("openssl \(arguments.first ?? ""): \(result.stderr)") }
    }
}
