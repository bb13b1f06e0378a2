import CourierCore
import Foundation
import MQTT

/// Publishes attempts to `courier/work/{operation}`, which worker daemons take through the
/// shared subscription `$share/courier-workers/courier/work/{operation}`. Workers reply to the
/// bridge's own reply topic; the bridge's MQTT client receives those replies.
final class MQTTDispatcher: WorkDispatcher {
    private let client: MQTTClient
    private let directory: WorkerDirectory
    private let topics: Topics
    private let replyTopic: String

    init(client: MQTTClient, directory: WorkerDirectory, topics: Topics, bridgeID: String) {
        self.client = client
        self.directory = directory
        self.topics = topics
        replyTopic = topics.bridgeReplies(bridgeID)
    }

    func hasWorker(for operation: String) -> Bool { directory.serves(operation) }

    func dispatch(_ item: WorkItem, completion: @escaping @Sendable (DispatchOutcome) -> Void) {
        let secondsLeft = max(1, (item.deadline - unixMillis() + 999) / 1000)
        var userProperties = [
            UserProperty("courier-device", item.device),
            .init("courier-operation", item.operation),
            .init("courier-attempt", "\(item.attempt)"),
            .init("courier-deadline", "\(item.deadline)"),
        ]
        userProperties += item.userProperties
        let properties = MQTTProperties(
            responseTopic: replyTopic,
            correlationData: Data(item.requestID.utf8),
            messageExpiry: UInt32(clamping: secondsLeft),
            contentType: item.contentType,
            payloadFormatIndicator: item.payloadFormatIndicator.map { UInt8(clamping: $0) },
            userProperties: userProperties
        )
        client.publish(topics.workTopic(item.operation), payload: item.payload, qos: .atLeastOnce, properties: properties) { result in
            switch result {
            case .success(let ack): completion(ack.isDelivered ? .sent : .noWorker)
            case .failure(let error): completion(.failed(error))
            }
        }
    }
}
