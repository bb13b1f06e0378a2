import CourierCore
import Foundation
import MQTT

extension RequestEngine {
    /// A command for a device: checked as a request is (device id, a configured command, size,
    /// content), then stored as a record of kind `command` and sent at once. Its duplicate
    /// (the same `Idempotency-Key`, or over MQTT the same Correlation Data, for the same device
    /// and command) is the original. Commands need no worker: the device is the worker.
    func admitCommand(_ command: CommandSubmission, now: Int64, conditions: Conditions) -> Admission {
        let answersCaller = !command.viaMQTT
        func refuse(_ code: ReplyCode, _ message: String) -> Admission {
            var effects = refusalCounts(code, message, operation: command.command, device: command.device, via: answersCaller ? "http" : "mqtt")
            if answersCaller {
                effects.append(.respond(.refused(code, message: message)))
            } else if let reply = Self.submitterReply(command, code, message) {
                effects.append(.reply(reply, recordID: nil))
            }
            return .done(effects)
        }
        guard Topics.isValidID(command.device) else { return refuse(.badRequest, "device must match [A-Za-z0-9_.-]{1,64}") }
        if let key = command.idempotencyKey, !Topics.isValidID(key) {
            return refuse(.badRequest, "Idempotency-Key must match [A-Za-z0-9_.-]{1,64}")
        }
        if let correlation = command.correlationData, correlation.count > configuration.limits.maxCorrelationDataBytes {
            return refuse(.badRequest, "correlation data is longer than \(configuration.limits.maxCorrelationDataBytes) bytes")
        }
        var record = RequestRecord(
            id: RequestRecord.newID(now: now),
            device: command.device,
            operation: command.command,
            deviceProtocol: command.deviceProtocol,
            correlationData: command.correlationData,
            requestId: command.idempotencyKey,
            responseTopic: command.responseTopic,
            qos: 1,
            payload: command.payload,
            contentType: command.contentType,
            receivedAt: now,
            deadline: now
        )
        record.kind = .command
        switch intake.check(record, messageExpiry: command.messageExpiry, now: now) {
        case .accept(let checked): record = checked
        case .reject(_, let code, let message): return refuse(code, message)
        case .drop(let reason): return refuse(.badRequest, reason)
        }
        if conditions.stopping {
            record.wakeAt = now
            return .store(Admitted(record: record, plan: .work(ack: false, send: false), answersCaller: answersCaller))
        }
        return .store(Admitted(record: startedAsFirstAttempt(record, now: now), plan: .work(ack: false, send: true), answersCaller: answersCaller))
    }

    /// An error answer to a command submitted over MQTT, on its Response Topic.
    private static func submitterReply(_ command: CommandSubmission, _ code: ReplyCode, _ message: String) -> DeviceReply? {
        guard let topic = command.responseTopic else { return nil }
        return DeviceReply(
            topic: topic, payload: ErrorBody(code, message: message).encoded(), contentType: ErrorBody.contentType,
            correlationData: command.correlationData,
            userProperties: [UserProperty("status", "\(code.status)"), UserProperty("error", code.rawValue)], status: code.status)
    }

    /// A device answered a command on its command-reply topic: `commandID` names the command
    /// (Correlation Data for MQTT 5, a topic level for 3.1.1), `record` is the stored record of
    /// that id (nil when none). An answer from another device than the command's, for another
    /// command, or for no command is ignored and counted; one for a finished command finds it
    /// final and is ignored as a late worker reply is. 102 and 202 are interim, as from a worker.
    package func deviceAnswered(
        _ record: RequestRecord?, device: String, command: String, status: Int, percent: Int?, payload: Data,
        contentType: String?, userProperties: [UserProperty], now: Int64
    ) -> [Effect] {
        guard let record, record.kind == .command, record.device == device, record.operation == command else {
            return [
                .count(.ignoredCommandReply),
                .log(LogLine(.warning, "command reply ignored: no such command of this device", ["device.id": device, "command": command])),
            ]
        }
        if Self.isInterim(status: status) {
            return workerReported(status: status, percent: percent, payload: payload, contentType: contentType, record: record, now: now)
        }
        return workerReplied(requestID: record.id, status: status, payload: payload, contentType: contentType, userProperties: userProperties)
    }

    /// The broker answered the send of a command's attempt. A device with no subscription (not
    /// connected, no persistent session) is no reason to give up: the attempt timer sends the
    /// command again, and the deadline answers 504.
    package func commandSent(id: String, command: String, _ outcome: DispatchOutcome) -> [Effect] {
        switch outcome {
        case .sent:
            return []
        case .noWorker:
            return [.log(LogLine(.debug, "command not delivered: the device is not subscribed", ["request.id": id, "command": command]))]
        case .failed(let error, permanent: true):
            return [
                .log(LogLine(.error, "command cannot be sent to the device", ["request.id": id, "error": error])),
                .finish(Self.errorOutcome(id, .badRequest, "the command cannot be sent to the device: \(error)", state: .failed)),
            ]
        case .failed(let error, permanent: false):
            return [.log(LogLine(.warning, "command send failed", ["request.id": id, "error": error]))]
        }
    }
}
