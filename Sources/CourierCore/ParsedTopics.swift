/// The parts of a request topic, `devices/{device}/requests/{operation}[/{requestId}]`, not yet
/// validated.
package struct ParsedRequestTopic: Sendable, Equatable {
    package var device: String
    package var operation: String
    /// The MQTT 3.1.1 request id; nil for the MQTT 5 shape.
    package var requestId: String?

    package init(device: String, operation: String, requestId: String? = nil) {
        self.device = device
        self.operation = operation
        self.requestId = requestId
    }
}

/// The parts of a cancel topic, `devices/{device}/cancel[/{operation}/{requestId}]`, not yet
/// validated. MQTT 5 cancels name the request by Correlation Data, so both ids are nil.
package struct ParsedCancelTopic: Sendable, Equatable {
    package var device: String
    package var operation: String?
    package var requestId: String?

    package init(device: String, operation: String? = nil, requestId: String? = nil) {
        self.device = device
        self.operation = operation
        self.requestId = requestId
    }
}

/// The parts of a command topic, `devices/{device}/commands/{command}[/{commandId}]`, not yet
/// validated. MQTT 5 commands carry the command id as Correlation Data, so it is nil.
package struct ParsedCommandTopic: Sendable, Equatable {
    package var device: String
    package var command: String
    package var commandId: String?

    package init(device: String, command: String, commandId: String? = nil) {
        self.device = device
        self.command = command
        self.commandId = commandId
    }
}

/// The parts of a command reply topic, `devices/{device}/command-replies/{command}` (MQTT 5:
/// id and status are in the properties) or `.../{command}/{commandId}/{status}` (3.1.1).
package struct ParsedCommandReplyTopic: Sendable, Equatable {
    package var device: String
    package var command: String
    package var commandId: String?
    package var status: Int?

    package init(device: String, command: String, commandId: String? = nil, status: Int? = nil) {
        self.device = device
        self.command = command
        self.commandId = commandId
        self.status = status
    }
}
