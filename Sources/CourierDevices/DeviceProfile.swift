import CourierCore
import Foundation

/// What a simulated fleet does: how many devices, which MQTT convention they speak, which
/// operations they ask for in what mix, and how hard and how long they push. Read from a YAML
/// file in `Devices/profiles/` by ``DeviceProfile/load(path:)``.
package struct DeviceProfile: Sendable, Equatable {
    /// The request convention of the SPEC the devices follow.
    package enum Convention: String, Sendable, Equatable, Codable {
        /// `devices/{id}/requests/{operation}` with Response Topic and Correlation Data.
        case mqtt5
        /// `devices/{id}/requests/{operation}/{requestId}`; the status comes back as the last
        /// level of `devices/{id}/replies/{operation}/{requestId}/{status}`.
        case mqtt311
    }

    /// How the request bodies of one operation are made.
    package enum Payload: Sendable, Equatable {
        /// `bytes` random printable ASCII characters (for `echo`).
        case echo(bytes: Int)
        /// A JSON batch of sensor readings: `{"sensor", "readings": [...], "threshold"}`, each
        /// reading `mean` plus uniform noise in ±`noise`, and with probability `outlierChance`
        /// an outlier `outlierSize` times `noise` away from the mean.
        case telemetry(Telemetry)
        /// The same JSON document every time (the YAML value, written as JSON).
        case json(String)
        /// The same text every time, sent as is (handy for payloads a handler must reject).
        case text(String)

        package var contentType: String? {
            switch self {
            case .echo: nil
            case .telemetry, .json: "application/json"
            case .text: "text/plain"
            }
        }
    }

    package struct Telemetry: Sendable, Equatable {
        package var sensor: String?
        package var readings: Int
        package var mean: Double
        package var noise: Double
        package var threshold: Double?
        package var outlierChance: Double
        package var outlierSize: Double

        package init(
            sensor: String? = nil,
            readings: Int,
            mean: Double,
            noise: Double,
            threshold: Double? = nil,
            outlierChance: Double = 0,
            outlierSize: Double = 10
        ) {
            self.sensor = sensor
            self.readings = readings
            self.mean = mean
            self.noise = noise
            self.threshold = threshold
            self.outlierChance = outlierChance
            self.outlierSize = outlierSize
        }
    }

    /// One entry of the operation mix.
    package struct Operation: Sendable, Equatable {
        package var name: String
        /// Relative share of the requests (weights need not add up to anything).
        package var weight: Double
        package var payload: Payload
        /// The final status a correct bridge answers with; any other counts as unexpected.
        package var expectStatus: Int

        package init(name: String, weight: Double = 1, payload: Payload, expectStatus: Int = 200) {
            self.name = name
            self.weight = weight
            self.payload = payload
            self.expectStatus = expectStatus
        }
    }

    /// How requests are paced.
    package enum Mode: Sendable, Equatable {
        /// Each device keeps `outstanding` requests in flight and sends the next as soon as one
        /// is answered (or times out): the load follows the bridge's speed.
        case closed(outstanding: Int)
        /// `requestsPerSecond` requests in all, spread over the devices in turn, whatever the
        /// bridge's speed: an open-loop load.
        case rate(requestsPerSecond: Double)
    }

    /// When the run stops sending.
    package enum Length: Sendable, Equatable {
        case duration(Duration)
        case requestsPerDevice(Int)
    }

    package var name: String
    package var description: String?
    package var convention: Convention
    package var deviceCount: Int
    /// Device ids are `{idPrefix}-{n}`, n from 1.
    package var idPrefix: String
    package var operations: [Operation]
    package var mode: Mode
    package var length: Length
    /// How long a device waits for the final reply before counting a timeout.
    package var timeout: Duration
    package var qos: Int
    /// Seeds the devices' random choices (operations, payloads), for repeatable runs.
    package var seed: UInt64?
    /// How the devices answer commands; empty for devices that take none. Devices with
    /// commands keep a persistent session under their own id as client id.
    package var commands: [CommandHandler]

    package init(
        name: String,
        description: String? = nil,
        convention: Convention = .mqtt5,
        deviceCount: Int,
        idPrefix: String,
        operations: [Operation],
        mode: Mode = .closed(outstanding: 1),
        length: Length,
        timeout: Duration = .seconds(10),
        qos: Int = 1,
        seed: UInt64? = nil,
        commands: [CommandHandler] = []
    ) {
        self.name = name
        self.description = description
        self.convention = convention
        self.deviceCount = deviceCount
        self.idPrefix = idPrefix
        self.operations = operations
        self.mode = mode
        self.length = length
        self.timeout = timeout
        self.qos = qos
        self.seed = seed
        self.commands = commands
    }

    /// The id of device `index` (from 0): `{idPrefix}-{index + 1}`.
    package func deviceID(_ index: Int) -> String { "\(idPrefix)-\(index + 1)" }
}

extension DeviceProfile {
    /// Loads and checks a profile file.
    package static func load(path: String) throws -> DeviceProfile {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, key: "", message: "cannot read the profile: \(error.localizedDescription)")
        }
        return try parse(yaml: text, file: path)
    }
}
