import CourierCore
import Foundation

/// A request on its way in, before validation. Every way in goes through the same admission.
package enum Arrival: Sendable {
    /// A device's request over MQTT.
    case device(IncomingRequest)
    /// A submission over the HTTP API; `requestId` is its `Idempotency-Key`.
    case http(device: String, operation: String, payload: Data, contentType: String?, requestId: String?)
    /// An operator's replay of a dead letter: a new request with its content and a fresh deadline.
    case replay(RequestRecord)
    /// A backend's command for a device.
    case command(CommandSubmission)

    /// Whose answer the arrival waits for: a device's over MQTT, or the caller's
    /// (``Effect/respond(_:)``).
    var answersCaller: Bool {
        switch self {
        case .device: false
        case .command(let command): !command.viaMQTT
        case .http, .replay: true
        }
    }
}

/// What admission decided about one arrival.
package enum Admission: Sendable, Equatable {
    /// Store the record (the store checks duplicates and quotas), then pass the store's answer
    /// to ``RequestEngine/stored(_:_:now:)``.
    case store(Admitted)
    /// No live worker serves the operation: a duplicate is still answered from the store. Look
    /// the record's identity up and pass what was found to
    /// ``RequestEngine/withoutWorker(_:existing:)``.
    case lookUp(Admitted)
    /// Decided without the store.
    case done([Effect])
}

/// A validated request to store, with what to do once it is stored.
package struct Admitted: Sendable, Equatable {
    package enum Plan: Sendable, Equatable {
        /// For a worker. `ack` answers 202 first; `send` dispatches it at once (it is stored
        /// as attempt 1 already), otherwise its timer starts it.
        case work(ack: Bool, send: Bool)
        /// Refused with this code and kept as a dead letter; `reply` is the error reply,
        /// nil when there is nowhere it may go.
        case rejection(ReplyCode, DeviceReply?, message: String)
    }

    package var record: RequestRecord
    package var plan: Plan
    /// True when the answer goes to the caller (HTTP, replay) rather than to a device.
    package var answersCaller: Bool
}

/// What the engine needs to know about the world when it admits requests.
package struct Conditions: Sendable {
    /// Whether a worker may serve the operation now.
    package var mayHaveWorker: @Sendable (String) -> Bool
    /// After SIGTERM: requests are recorded and acknowledged, but start no attempt.
    package var stopping: Bool

    package init(stopping: Bool = false, mayHaveWorker: @escaping @Sendable (String) -> Bool) {
        self.stopping = stopping
        self.mayHaveWorker = mayHaveWorker
    }
}
