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
}
