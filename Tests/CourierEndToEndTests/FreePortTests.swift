import CourierProcess
import Testing

@Suite
struct FreePortTests {
    @Test
    func portsAreNeverHandedOutTwiceAndStayBelowTheEphemeralRange() throws {
        let ports = try (0..<200).map { _ in try FreePort.allocate() }
        #expect(Set(ports).count == ports.count)
        #expect(ports.allSatisfy { $0 < 32_768 })
    }

    struct Taken: Error { let port: Int }

    @Test
    func retryingTriesAnotherPortAfterAFailureAndRethrowsTheLastOne() async throws {
        var tried: [Int] = []
        let third = try await FreePort.retrying { port in
            tried.append(port)
            guard tried.count == 3 else { throw Taken(port: port) }
            return port
        }
        #expect(tried.count == 3 && Set(tried).count == 3 && third == tried.last)

        tried = []
        await #expect(throws: Taken.self) {
            try await FreePort.retrying(attempts: 2) { port in
                tried.append(port)
                throw Taken(port: port)
            }
        }
        #expect(tried.count == 2)
    }
}
