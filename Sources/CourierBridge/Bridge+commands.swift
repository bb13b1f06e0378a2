import CourierCore
import CourierEngine
import CourierWorkers
import Foundation
import MQTT

extension Bridge {
    /// Sends one attempt of a command to its device (QoS 1): on MQTT 5 to
    /// `devices/{device}/commands/{command}` with the command id as Correlation Data and the
    /// device's command-reply topic as Response Topic; on 3.1.1 to `.../{command}/{commandId}`.
    /// Either way with Message Expiry = time left, `courier-attempt` and `courier-deadline`, so
    /// that a device offline with a persistent session gets it until the deadline.
    func deliverCommand(_ command: RequestRecord, completion: @escaping @Sendable (DispatchOutcome) -> Void) {
        let now = unixMillis()
        let legacy = command.deviceProtocol == .mqtt311
        let topic = topics.commandTopic(device: command.device, command: command.operation, commandId: legacy ? command.id : nil)
        var properties = MQTTProperties()
        if !legacy {
            properties.responseTopic = topics.commandReplyTopic(device: command.device, command: command.operation)
            properties.correlationData = Data(command.id.utf8)
            properties.contentType = command.contentType
            properties.userProperties = [
                UserProperty("courier-attempt", "\(command.attempts)"), UserProperty("courier-deadline", "\(command.deadline)"),
            ]
        }
        properties.messageExpiry = UInt32(max(1, (command.deadline - now + 999) / 1000))
        client.publish(topic, payload: command.payload, qos: .atLeastOnce, properties: properties) { result in
            switch result {
            case .success(let ack): completion(ack.isDelivered ? .sent : .noWorker)
            case .failure(let error): completion(.failed("\(error)", permanent: error.isPermanent))
            }
        }
    }

    /// A device's answer to a command, on the network thread: MQTT 5 on
    /// `devices/{device}/command-replies/{command}` with the command id as Correlation Data
    /// and the status as user property (absent: 200); 3.1.1 with both as topic levels.
    func commandReply(_ parsed: ParsedCommandReplyTopic, _ message: MQTTMessage) {
        let commandID: String
        let status: Int
        let percent: Int?
        var userProperties = message.properties.userProperties
        if let id = parsed.commandId, let topicStatus = parsed.status {
            (commandID, status, percent) = (id, topicStatus, nil)
        } else if let reply = WorkMessage.decodeResult(message) {
            (commandID, status, percent) = (reply.requestID, reply.result.status, reply.progress)
            userProperties = reply.result.userProperties
        } else {
            perform([.count(.ignoredCommandReply), .log(LogLine(.warning, "command reply without a command id ignored", ["mqtt.topic": message.topic]))])
            return
        }
        withStoredRecord(id: commandID) { record in
            perform(engine.deviceAnswered(
                record, device: parsed.device, command: parsed.command, status: status, percent: percent, payload: message.payload,
                contentType: message.properties.contentType, userProperties: userProperties, now: unixMillis()))
        }
    }
}

extension CommandSubmission {
    /// A command a backend published to `courier/commands/{device}/{command}`.
    init(_ message: MQTTMessage, device: String, command: String) {
        self.init(
            device: device, command: command, payload: message.payload, contentType: message.properties.contentType,
            deviceProtocol: message.properties.userProperty("courier-protocol") == "mqtt311" ? .mqtt311 : .mqtt5,
            responseTopic: message.properties.responseTopic, correlationData: message.properties.correlationData,
            messageExpiry: message.properties.messageExpiry)
    }
}
