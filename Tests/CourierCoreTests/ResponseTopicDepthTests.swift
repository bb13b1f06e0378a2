import CourierCore
import Foundation
import Testing

/// A Response Topic in the device's own namespace but deeper than a broker takes: mosquitto
/// 2.0 disconnects a client that publishes to a topic of more than 201 levels, and the bridge
/// would be that client, its QoS 1 reply published again after every reconnect (found by the
/// hostile-input storm: one such request took `courier serve` off the broker for good).
@Suite
struct ResponseTopicDepthTests {
    let intake: RequestIntake = {
        var configuration = CourierConfiguration()
        configuration.operations = [OperationConfig(name: "echo", timeout: .seconds(10))]
        return RequestIntake(configuration: configuration)
    }()

    /// `devices/d1/replies` and `extra` more levels below it.
    func responseTopic(levels extra: Int) -> String {
        (["devices/d1/replies"] + Array(repeating: "a", count: extra)).joined(separator: "/")
    }

    func evaluate(_ responseTopic: String) -> IntakeDecision {
        intake.evaluate(
            IncomingRequest(topic: "devices/d1/requests/echo", payload: Data("x".utf8), responseTopic: responseTopic, correlationData: Data("c1".utf8)),
            now: 0
        )
    }

    @Test(arguments: [199, 299, 500])
    func aResponseTopicDeeperThanABrokerTakesIsForbidden(extra: Int) {
        let topic = responseTopic(levels: extra)
        #expect(topic.utf8.count <= 1024, "short enough for the length rule: the depth is what is wrong")
        guard case .reject(let record, let code, let message) = evaluate(topic) else {
            Issue.record("a Response Topic of \(extra + 3) levels was accepted")
            return
        }
        #expect(code == .forbiddenResponseTopic)
        #expect(message.contains("levels"))
        #expect(record.responseTopic == nil)
        #expect(DeviceReply.final(for: record, topics: Topics()) == nil)
    }

    @Test
    func aResponseTopicAtTheDepthLimitIsAccepted() {
        let topic = responseTopic(levels: RequestIntake.maxResponseTopicLevels - 3)
        #expect(topic.split(separator: "/").count == RequestIntake.maxResponseTopicLevels)
        guard case .accept = evaluate(topic) else {
            Issue.record("a Response Topic of \(RequestIntake.maxResponseTopicLevels) levels was refused")
            return
        }
    }
}
