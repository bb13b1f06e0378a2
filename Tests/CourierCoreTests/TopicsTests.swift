import CourierCore
import Testing

@Suite(.timeLimit(.minutes(1)))
struct TopicsTests {
    let topics = Topics()

    func parsed(_ topic: String) -> [String?]? {
        topics.parseRequest(topic).map { [$0.device, $0.operation, $0.requestId] }
    }

    @Test func parsesMQTT5Requests() {
        #expect(parsed("devices/d1/requests/echo") == ["d1", "echo", nil])
        #expect(parsed("devices/thermo-7/requests/telemetry.summary") == ["thermo-7", "telemetry.summary", nil])
    }

    @Test func parsesMQTT311Requests() {
        #expect(parsed("devices/d1/requests/echo/req-42") == ["d1", "echo", "req-42"])
    }

    @Test(arguments: [
        "devices/d1/requests",
        "devices/d1/replies/echo",
        "devices/d1/requests/echo/r/extra",
        "device/d1/requests/echo",
        "courier/work/echo",
        "devices",
        "",
    ])
    func rejectsOtherTopics(_ topic: String) {
        #expect(topics.parseRequest(topic) == nil)
    }

    @Test func parsingDoesNotValidateLevels() {
        // Empty levels are parsed, then refused by isValidID.
        let parsed = topics.parseRequest("devices//requests/echo")
        #expect(parsed?.device == "")
        #expect(!Topics.isValidID(parsed?.device ?? ""))
    }

    @Test(arguments: ["devices/d1/replies/x", "devices/d1/replies/a/b", "devices/d1/replies/echo/r1/200", "devices/d1/replies"])
    func allowsTheDevicesOwnReplyTopics(_ topic: String) {
        #expect(topics.isAllowedResponseTopic(topic, device: "d1"))
    }

    @Test(arguments: [
        "devices/d2/replies/x",
        "devices/d1/replies/#",
        "devices/d1/replies/+",
        "devices/d1/replies/a/+/b",
        "devices/d1/replies/",
        "devices/d1/replie",
        "devices/d2/replies",
        "devices/d1/requests/x",
        "$SYS/x",
        "devices/d1/replies//x",
        "devices/d1/replies/x/",
        "devices/d10/replies/x",
        "devices/d1/repliesx",
        "devices/d1/replies/a#",
        "devices/d1/replies/x\u{0}",
        "devices/d1/replies/" + String(repeating: "x", count: 1100),
        "",
    ])
    func forbidsEveryOtherTopic(_ topic: String) {
        #expect(!topics.isAllowedResponseTopic(topic, device: "d1"))
    }

    @Test func confinementIsPerDevice() {
        #expect(topics.isAllowedResponseTopic("devices/d2/replies/x", device: "d2"))
        #expect(!topics.isAllowedResponseTopic("devices/d1/replies/x", device: "d10"))
    }

    @Test(arguments: ["a", "d1", "telemetry.summary", "A-Z_a-z.0-9", String(repeating: "x", count: 64)])
    func validIDs(_ id: String) {
        #expect(Topics.isValidID(id))
    }

    @Test(arguments: ["", "a/b", "a b", "a+b", "a#", "é", "d1\u{0}", String(repeating: "x", count: 65), "$SYS"])
    func invalidIDs(_ id: String) {
        #expect(!Topics.isValidID(id))
    }

    @Test func derivedTopics() {
        #expect(topics.requestFilters == ["devices/+/requests/+", "devices/+/requests/+/+"])
        #expect(topics.workTopic("echo") == "courier/work/echo")
        #expect(topics.workSubscription("echo") == "$share/courier-workers/courier/work/echo")
        #expect(topics.bridgeReplies("bridge-1") == "courier/bridges/bridge-1/replies")
        #expect(topics.presence("w1") == "courier/workers/w1")
        #expect(topics.deadLetters("echo") == "courier/deadletters/echo")
        #expect(
            topics.legacyReplyTopic(device: "d1", operation: "echo", requestId: "r1", status: 504)
                == "devices/d1/replies/echo/r1/504")
    }
}
