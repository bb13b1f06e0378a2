import CMosquitto
import CourierTesting
import Foundation
@testable import MQTT
import Testing

/// `WakePair` writes into libmosquitto's private `struct mosquitto` (see its comment for why).
/// This pins the layout it relies on: on a libmosquitto whose first fields are not `sock`,
/// `sockpairR`, `sockpairW`, the pair is not found and these tests fail.
@Suite(.timeLimit(.minutes(1)))
struct WakePairTests {
    @Test
    func theWakePairOfAConnectedClientIsFoundAndDetached() async throws {
        try await withBroker { broker in
            _ = Mosquitto.initialized
            let mosq = try #require(mosquitto_new("wake-pair-\(UUID().uuidString.prefix(8))", true, nil))
            defer { mosquitto_destroy(mosq) }
            #expect(mosquitto_connect(mosq, "127.0.0.1", Int32(broker.port), 30) == Mosquitto.success)
            #expect(WakePair.layoutKnown)
            let pair = try #require(WakePair.detach(from: mosq), "libmosquitto's struct layout is not the one WakePair knows")
            #expect(pair.read != pair.write)
            #expect(pair.read != mosquitto_socket(mosq))
            // The fields now say "no pair", so libmosquitto leaves the descriptors alone.
            #expect(WakePair.detach(from: mosq) == nil)
            close(pair.read)
            close(pair.write)
            mosquitto_disconnect(mosq)
        }
    }

    @Test
    func aClientOnAnEventLoopHoldsOneDescriptor() {
        #expect(MQTTEventLoop.descriptorsPerClient == 1)
    }
}
