import CourierCore
import Testing

@Suite(.timeLimit(.minutes(1)))
struct DurationTextTests {
    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)),
        ("0ms", .zero),
        ("0s", .zero),
        ("10s", .seconds(10)),
        ("2m", .seconds(120)),
        ("1h", .seconds(3600)),
        ("36h", .seconds(36 * 3600)),
        (" 3s ", .seconds(3)),
        ("1500ms", .milliseconds(1500)),
    ])
    func parses(_ text: String, _ expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }

    @Test(arguments: ["", "s", "10", "5x", "1.5s", "-1s", "+1s", "10 s", "1.5d", "10S", "ms", "1h30m", "٣s"])
    func rejects(_ text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test(arguments: [
        (Duration.milliseconds(500), "500ms"),
        (.milliseconds(1500), "1500ms"),
        (.zero, "0s"),
        (.seconds(10), "10s"),
        (.seconds(90), "90s"),
        (.seconds(120), "2m"),
        (.seconds(3600), "1h"),
        (.seconds(5400), "90m"),
        (.seconds(7 * 86_400), "7d"),
    ])
    func formats(_ duration: Duration, _ expected: String) {
        #expect(DurationText.format(duration) == expected)
    }

    @Test(arguments: ["500ms", "10s", "2m", "1h", "1500ms", "90m", "7d"])
    func roundTrips(_ text: String) throws {
        let duration = try #require(DurationText.parse(text))
        #expect(DurationText.format(duration) == text)
    }
}
