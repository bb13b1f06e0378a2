import CourierTesting
import Foundation
import Testing

/// The C device example in `Devices/c`, compiled with the system compiler and run against a
/// real `courier serve`.
@Suite(.timeLimit(.minutes(1)))
struct CDeviceTests {
    @Test
    func theCDeviceExampleGetsItsReply() async throws {
        let source = ConfigCheckTests.root.appendingPathComponent("Devices/c/device.c").path
        let binary = FileManager.default.temporaryDirectory.appendingPathComponent("c-device-\(UUID().uuidString.prefix(6))").path
        let compiled = try await Command.run("cc", ["-Wall", "-Werror", "-o", binary, source, "-lmosquitto"])
        #expect(compiled.status == 0, "\(compiled.stderr)")
        try await withBroker { broker in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courier-c-\(UUID().uuidString)")
            let config = try writeCourierConfig(in: directory, broker: broker)
            let serve = try await CourierDaemon.start(["serve", "--config", config], readyLine: "bridge started", directory: directory)
            let echo = try await Command.run(binary, ["-p", "\(broker.port)", "-d", "c-dev", "-m", "from C"])
            #expect(echo.status == 0, "\(echo.stderr)")
            #expect(echo.stdout == "200 from C\n")
            let unknown = try await Command.run(binary, ["-p", "\(broker.port)", "-d", "c-dev", "-o", "nope"])
            #expect(unknown.status == 1)
            #expect(unknown.stdout.hasPrefix("404 {\"error\""))
            await serve.stop()
        }
    }
}
