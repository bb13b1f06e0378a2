import CourierCore
import CourierEngine
import CourierWorkers
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

    func dispatch(_ request: HandlerRequest, completion: @escaping @Sendable (DispatchOutcome) -> Void) {
        let message = WorkMessage.encode(request, replyTopic: replyTopic, now: unixMillis())
        client.publish(topics.workTopic(request.operation), payload: message.payload, qos: .atLeastOnce, properties: message.properties) { result in
            switch result {
            case .success(let ack): completion(ack.isDelivered ? .sent : .noWorker)
            case .failure(let error): completion(.failed("\(error)", permanent: error.isPermanent))
            }
        }
    }

    func cancel(requestID: String) {
        let body = (try? JSONSerialization.data(withJSONObject: ["id": requestID])) ?? Data()
        client.publish("courier/cancellations", payload: body, qos: .atLeastOnce) { _ in }
    }
}
