import CourierCore
import Foundation
import MQTT
import Testing

@testable import CourierWorkers

/// The work message and the worker's reply as plain values. Property names are spelled out:
/// workers in other languages read and write exactly these.
@Suite(.timeLimit(.minutes(1)))
struct WorkMessageTests {
    static let replyTopic = "courier/bridges/b1/replies"
    static let request = HandlerRequest(
        requestID: "r-1", device: "d9", operation: "echo", attempt: 2, deadline: 1_700_000_009_500,
        payload: Data("hi".utf8), contentType: "text/plain", payloadFormatIndicator: 1,
        userProperties: [UserProperty("traceparent", "t"), UserProperty("zone", "b"), UserProperty("zone", "a")])

    // MARK: Work

    @Test func aRequestIsEncodedAsTheContractSays() {
        let (payload, properties) = WorkMessage.encode(Self.request, replyTopic: Self.replyTopic, now: 1_700_000_000_000)
        #expect(payload == Data("hi".utf8))
        #expect(properties == MQTTProperties(
            responseTopic: Self.replyTopic,
            correlationData: Data("r-1".utf8),
            messageExpiry: 10,  // 9.5 s left, rounded up
            contentType: "text/plain",
            payloadFormatIndicator: 1,
            userProperties: [
                UserProperty("courier-device", "d9"), UserProperty("courier-operation", "echo"),
                UserProperty("courier-attempt", "2"), UserProperty("courier-deadline", "1700000009500"),
                UserProperty("traceparent", "t"), UserProperty("zone", "b"), UserProperty("zone", "a"),
            ]))
    }

    @Test func theMessageExpiryIsTheWholeSecondsLeftAndAtLeastOne() {
        func expiry(_ millisecondsLeft: Int64) -> UInt32? {
            WorkMessage.encode(Self.request, replyTopic: Self.replyTopic, now: Self.request.deadline - millisecondsLeft).properties.messageExpiry
        }
        #expect(expiry(3_000) == 3)
        #expect(expiry(3_001) == 4)
        #expect(expiry(1) == 1)
        #expect(expiry(0) == 1)
        #expect(expiry(-5_000) == 1)
    }

    @Test func aRequestRoundTrips() throws {
        let (payload, properties) = WorkMessage.encode(Self.request, replyTopic: Self.replyTopic, now: 1_700_000_000_000)
        let message = MQTTMessage(topic: Topics().workTopic("echo"), payload: payload, qos: .atLeastOnce, properties: properties)
        let work = try WorkMessage.decodeRequest(message, now: 0)
        #expect(work == WorkMessage.Work(request: Self.request, responseTopic: Self.replyTopic, correlationData: Data("r-1".utf8)))
    }

    @Test func everyCourierPropertyIsTheBridgesAndTheRestTheDevices() throws {
        let message = MQTTMessage(
            topic: "courier/work/echo",
            payload: Data("hi".utf8),
            qos: .atLeastOnce,
            properties: MQTTProperties(
                responseTopic: Self.replyTopic,
                correlationData: Data("r-1".utf8),
                messageExpiry: 9,
                contentType: "text/plain",
                payloadFormatIndicator: 1,
                userProperties: [
                    UserProperty("courier-device", "d9"), UserProperty("traceparent", "t"), UserProperty("courier-operation", "echo"),
                    UserProperty("courier-attempt", "2"), UserProperty("courier-deadline", "1700000009500"),
                    UserProperty("courier-future", "x"), UserProperty("zone", "b"), UserProperty("zone", "a"),
                ]
            )
        )
        #expect(try WorkMessage.decodeRequest(message, now: 1_000).request == Self.request)
    }

    @Test func aBareWorkMessageFallsBackToTopicAndExpiry() throws {
        var properties = MQTTProperties(responseTopic: "r", correlationData: Data("c".utf8), messageExpiry: 5)
        let bare = MQTTMessage(topic: "courier/work/telemetry.summary", payload: Data(), qos: .atLeastOnce, properties: properties)
        let request = try WorkMessage.decodeRequest(bare, now: 10_000).request
        #expect(request == HandlerRequest(
            requestID: "c", device: "", operation: "telemetry.summary", attempt: 1, deadline: 15_000, payload: Data()))

        properties.messageExpiry = nil
        let noDeadline = MQTTMessage(topic: "courier/work/echo", payload: Data(), qos: .atMostOnce, properties: properties)
        #expect(try WorkMessage.decodeRequest(noDeadline, now: 10_000).request.deadline == Int64.max)
    }

    @Test func aWorkMessageWithoutReplyAddressIsRefused() {
        func message(_ properties: MQTTProperties) -> MQTTMessage {
            MQTTMessage(topic: "courier/work/echo", payload: Data(), qos: .atLeastOnce, properties: properties)
        }
        let noTopic = message(MQTTProperties(correlationData: Data("c".utf8)))
        let emptyTopic = message(MQTTProperties(responseTopic: "", correlationData: Data("c".utf8)))
        let noCorrelation = message(MQTTProperties(responseTopic: "r"))
        let emptyCorrelation = message(MQTTProperties(responseTopic: "r", correlationData: Data()))
        #expect(throws: WorkMessage.DecodeError.noResponseTopic) { try WorkMessage.decodeRequest(noTopic, now: 0) }
        #expect(throws: WorkMessage.DecodeError.noResponseTopic) { try WorkMessage.decodeRequest(emptyTopic, now: 0) }
        #expect(throws: WorkMessage.DecodeError.noCorrelationData) { try WorkMessage.decodeRequest(noCorrelation, now: 0) }
        #expect(throws: WorkMessage.DecodeError.noCorrelationData) { try WorkMessage.decodeRequest(emptyCorrelation, now: 0) }
    }

    // MARK: Result

    @Test func aResultRoundTripsWithTheStatusFirst() throws {
        let result = HandlerResponse(
            status: 418, payload: Data("short and stout".utf8), contentType: "text/plain",
            userProperties: [UserProperty("pot", "tea"), UserProperty("error", "teapot")])
        let (payload, properties) = WorkMessage.encodeResult(result, correlationData: Data("r-1".utf8))
        #expect(payload == result.payload)
        #expect(properties == MQTTProperties(
            correlationData: Data("r-1".utf8),
            contentType: "text/plain",
            userProperties: [UserProperty("status", "418"), UserProperty("pot", "tea"), UserProperty("error", "teapot")]))
        let message = MQTTMessage(topic: Self.replyTopic, payload: payload, qos: .atLeastOnce, properties: properties)
        #expect(WorkMessage.decodeResult(message) == WorkMessage.Reply(requestID: "r-1", result: result))
    }

    @Test func aResultKeepsOnlyItsOwnStatus() {
        let result = HandlerResponse(status: 418, payload: Data(), userProperties: [UserProperty("status", "200"), UserProperty("pot", "tea")])
        let properties = WorkMessage.encodeResult(result, correlationData: Data([1, 2])).properties
        #expect(properties.userProperties == [UserProperty("status", "418"), UserProperty("pot", "tea")])
    }

    @Test(arguments: zip([nil, "100", "102", "202", "404", "599"], [200, 100, 102, 202, 404, 599]))
    func aValidStatusIsKept(_ property: String?, _ status: Int) throws {
        let userProperties = (property.map { [UserProperty("status", $0)] } ?? []) + [UserProperty("pot", "tea")]
        let message = MQTTMessage(
            topic: Self.replyTopic, payload: Data("x".utf8), qos: .atLeastOnce,
            properties: MQTTProperties(correlationData: Data("r-1".utf8), userProperties: userProperties))
        let reply = try #require(WorkMessage.decodeResult(message))
        #expect(reply == WorkMessage.Reply(
            requestID: "r-1", result: HandlerResponse(status: status, payload: Data("x".utf8), userProperties: [UserProperty("pot", "tea")])))
    }

    @Test(arguments: ["", "abc", "99", "600", "-200", "200.0", " 200", "2OO", String(repeating: "9", count: 100)])
    func anInvalidStatusIsA500WorkerError(_ property: String) throws {
        let message = MQTTMessage(
            topic: Self.replyTopic, payload: Data("x".utf8), qos: .atLeastOnce,
            properties: MQTTProperties(
                correlationData: Data("r-1".utf8), contentType: "text/plain",
                userProperties: [UserProperty("status", property), UserProperty("pot", "tea")]))
        let reply = try #require(WorkMessage.decodeResult(message))
        #expect(reply.requestID == "r-1")
        #expect(reply.invalidStatus == property)
        #expect(reply.result.status == 500)
        #expect(reply.result.contentType == ErrorBody.contentType)
        #expect(reply.result.userProperties.isEmpty)
        let body = try JSONDecoder().decode(ErrorBody.self, from: reply.result.payload)
        #expect(body.error.status == 500)
        #expect(body.error.code == "worker_error")
        #expect(body.error.message == "the worker replied with status \"\(property.prefix(32))\", not 100-599")
    }

    @Test func aReplyWithoutCorrelationDataIsNotRead() {
        let message = MQTTMessage(
            topic: Self.replyTopic, payload: Data(), qos: .atLeastOnce,
            properties: MQTTProperties(userProperties: [UserProperty("status", "200")]))
        #expect(WorkMessage.decodeResult(message) == nil)
    }
}

/// Progress replies and cancellations as plain values.
@Suite struct ProgressAndCancellationMessageTests {
    @Test func progressIsEncodedWithStatusAndPercentage() {
        let update = ProgressUpdate.progress(percent: 40, payload: Data("halfway-ish".utf8), contentType: "text/plain")
        let (payload, properties) = WorkMessage.encodeProgress(update, correlationData: Data("r-7".utf8))
        #expect(payload == Data("halfway-ish".utf8))
        #expect(properties == MQTTProperties(
            correlationData: Data("r-7".utf8), contentType: "text/plain",
            userProperties: [UserProperty("status", "102"), UserProperty("progress", "40")]))
        let heartbeat = WorkMessage.encodeProgress(.heartbeat, correlationData: Data("r-7".utf8))
        #expect(heartbeat.payload.isEmpty)
        #expect(heartbeat.properties.userProperties == [UserProperty("status", "202")])
    }

    @Test func theBridgeReadsProgressBack() throws {
        let (payload, properties) = WorkMessage.encodeProgress(.progress(percent: 75), correlationData: Data("r-7".utf8))
        let reply = try #require(WorkMessage.decodeResult(MQTTMessage(topic: "t", payload: payload, qos: .atLeastOnce, properties: properties)))
        #expect(reply.requestID == "r-7")
        #expect(reply.result.status == 102)
        #expect(reply.progress == 75)
        #expect(reply.result.userProperties.isEmpty)
        #expect(!reply.isFinal)

        let heartbeat = WorkMessage.encodeProgress(.heartbeat, correlationData: Data("r-7".utf8))
        let beat = try #require(WorkMessage.decodeResult(MQTTMessage(topic: "t", payload: heartbeat.payload, qos: .atLeastOnce, properties: heartbeat.properties)))
        #expect(beat.result.status == 202)
        #expect(beat.progress == nil)
        #expect(!beat.isFinal)
    }

    @Test(arguments: ["101", "-1", "forty", ""])
    func aProgressOutside0To100IsIgnored(_ progress: String) throws {
        let properties = MQTTProperties(
            correlationData: Data("r".utf8), userProperties: [UserProperty("status", "102"), UserProperty("progress", progress)])
        let reply = try #require(WorkMessage.decodeResult(MQTTMessage(topic: "t", payload: Data(), qos: .atLeastOnce, properties: properties)))
        #expect(reply.progress == nil)
        #expect(reply.result.status == 102)
    }

    @Test func aFinalReplyKeepsAPropertyNamedProgress() throws {
        let properties = MQTTProperties(
            correlationData: Data("r".utf8), userProperties: [UserProperty("status", "200"), UserProperty("progress", "10")])
        let reply = try #require(WorkMessage.decodeResult(MQTTMessage(topic: "t", payload: Data(), qos: .atLeastOnce, properties: properties)))
        #expect(reply.isFinal)
        #expect(reply.progress == nil)
        #expect(reply.result.userProperties == [UserProperty("progress", "10")])
    }

    @Test func percentagesAreClamped() {
        #expect(ProgressUpdate.progress(percent: 140).percent == 100)
        #expect(ProgressUpdate.progress(percent: -3).percent == 0)
        #expect(ProgressUpdate.heartbeat.isHeartbeat)
    }

    @Test func aCancellationIsJSONWithTheRequestID() {
        let payload = CancellationMessage.encode(requestID: "01J9Z-abc")
        #expect(String(decoding: payload, as: UTF8.self) == #"{"id":"01J9Z-abc"}"#)
        #expect(CancellationMessage.decode(payload) == "01J9Z-abc")
        #expect(CancellationMessage.decode(Data(#"{"id":"x","reason":"device"}"#.utf8)) == "x")
        for bad in ["", "{}", #"{"id":""}"#, #"{"id":7}"#, "not json"] {
            #expect(CancellationMessage.decode(Data(bad.utf8)) == nil)
        }
    }

    @Test func topics() {
        #expect(Topics().cancellations == "courier/cancellations")
        #expect(Topics().directWork(workerID: "w-1", operation: "echo") == "courier/workers/w-1/work/echo")
    }
}
