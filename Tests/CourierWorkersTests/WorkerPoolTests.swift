import CourierCore
import Foundation
import MQTT
import Testing

@testable import CourierWorkers

@Suite(.timeLimit(.minutes(1)))
struct WorkerPoolTests {
    @Test func unknownOperationIs404() async throws {
        let pool = WorkerPool(handlers: BuiltinHandlers.all, concurrency: 2)
        let result = await pool.perform(request("nope", "x"))
        #expect(result.status == 404)
        #expect(result.contentType == "application/json")
        let body = try decodeErrorBody(result)
        #expect(body.error.status == 404)
        #expect(body.error.code == "unknown_operation")
        #expect(body.error.message.contains("nope"))
        #expect(pool.inFlight == 0)
    }

    @Test func plainErrorIs500() async throws {
        let pool = WorkerPool(handlers: [FailingHandler(operation: "fail", error: PlainError())], concurrency: 1)
        let result = await pool.perform(request("fail"))
        #expect(result.status == 500)
        #expect(result.contentType == "application/json")
        let body = try decodeErrorBody(result)
        #expect(body.error.code == "worker_error")
        #expect(body.error.status == 500)
    }

    @Test func handlerErrorKeepsItsStatusAndCode() async throws {
        let error = HandlerError(status: 422, code: "sensor_unknown", message: "no sensor called x")
        let pool = WorkerPool(handlers: [FailingHandler(operation: "fail", error: error)], concurrency: 1)
        let result = await pool.perform(request("fail"))
        #expect(result.status == 422)
        #expect(result.contentType == ErrorBody.contentType)
        #expect(try decodeErrorBody(result) == ErrorBody(status: 422, code: "sensor_unknown", message: "no sensor called x"))
        #expect(result.payload == error.body.encoded())
    }

    @Test(arguments: [
        (HandlerError.badRequest("b"), 400, "bad_request"),
        (HandlerError.payloadTooLarge("p"), 413, "payload_too_large"),
        (HandlerError.workerError("w"), 500, "worker_error"),
        (HandlerError.unavailable("u"), 503, "unavailable"),
        (HandlerError.timeout("t"), 504, "timeout"),
    ])
    func handlerErrorStatics(_ error: HandlerError, _ status: Int, _ code: String) {
        #expect(error.status == status)
        #expect(error.code == code)
    }

    @Test func responseStatusAndPropertiesPassThrough() async throws {
        let response = HandlerResponse(
            status: 418, payload: Data("short and stout".utf8), contentType: "text/plain",
            userProperties: [UserProperty("pot", "tea")])
        let pool = WorkerPool(handlers: [FixedHandler(operation: "teapot", response: response)], concurrency: 1)
        let result = await pool.perform(request("teapot"))
        #expect(result == HandlerResponse(
            status: 418, payload: Data("short and stout".utf8), contentType: "text/plain",
            userProperties: [UserProperty("pot", "tea")]))
    }

    @Test func echoThroughThePool() async throws {
        let pool = WorkerPool(handlers: BuiltinHandlers.all, concurrency: 1)
        let result = await pool.perform(request("echo", "hello", contentType: "text/plain"))
        #expect(result == HandlerResponse(status: 200, payload: Data("hello".utf8), contentType: "text/plain"))
    }

    @Test func operationsAndConcurrency() {
        let pool = WorkerPool(handlers: BuiltinHandlers.all, concurrency: 5)
        #expect(pool.operations == ["echo", "telemetry.anomalies", "telemetry.summary"])
        #expect(pool.concurrency == 5)
        #expect(pool.inFlight == 0)
        #expect(pool.handler(for: "echo") is EchoHandler)
        #expect(pool.handler(for: "nope") == nil)
    }

    @Test func concurrencyLimitHolds() async throws {
        let recorder = Recorder()
        let pool = WorkerPool(handlers: [BlockingHandler(recorder: recorder)], concurrency: 3)
        let results = await withTaskGroup(of: HandlerResponse.self) { group in
            for index in 0..<10 {
                group.addTask { await pool.perform(request("block", "item \(index)")) }
            }
            await recorder.waitUntil { $0.entered == 3 }
            // Let one handler finish at a time: exactly one more may start each time.
            for entered in 4...10 {
                await recorder.release()
                await recorder.waitUntil { $0.entered == entered }
                let snapshot = await recorder.snapshot
                #expect(snapshot.current <= 3)
                #expect(snapshot.finished == entered - 3)
            }
            await recorder.release(3)
            var results: [HandlerResponse] = []
            for await result in group { results.append(result) }
            return results
        }
        #expect(results.count == 10)
        #expect(results.allSatisfy { $0.status == 200 })
        #expect(Set(results.map { text($0.payload) }) == Set((0..<10).map { "item \($0)" }))
        #expect(await recorder.snapshot.maxConcurrent == 3)
        #expect(pool.inFlight == 0)
        #expect(pool.running == 0)
    }

    @Test func inFlightCountsWaitingAndRunning() async throws {
        let recorder = Recorder()
        let pool = WorkerPool(handlers: [BlockingHandler(recorder: recorder)], concurrency: 1)
        let first = Task { await pool.perform(request("block")) }
        await recorder.waitUntil { $0.entered == 1 }
        let second = Task { await pool.perform(request("block")) }
        await until { pool.waiting == 1 }
        #expect(pool.inFlight == 2)
        #expect(pool.running == 1)
        await recorder.release(2)
        #expect(await first.value.status == 200)
        #expect(await second.value.status == 200)
        #expect(pool.inFlight == 0)
    }

    @Test func drainWaitsForInFlightWork() async throws {
        let recorder = Recorder()
        let pool = WorkerPool(handlers: [BlockingHandler(recorder: recorder)], concurrency: 2)
        let work = (0..<3).map { index in Task { await pool.perform(request("block", "\(index)")) } }
        await recorder.waitUntil { $0.entered == 2 }
        let drained = Task {
            await pool.drain()
            await recorder.record("drained")
        }
        await until { pool.drainingCount == 1 }
        await recorder.release()
        await recorder.waitUntil { $0.entered == 3 }
        await recorder.release()
        await recorder.waitUntil { $0.finished == 2 }
        #expect(await recorder.snapshot.events == ["finished", "finished"])
        await recorder.release()
        await drained.value
        #expect(await recorder.snapshot.events == ["finished", "finished", "finished", "drained"])
        #expect(pool.inFlight == 0)
        for task in work { #expect(await task.value.status == 200) }
    }

    @Test func drainReturnsAtOnceWhenIdle() async {
        let pool = WorkerPool(handlers: BuiltinHandlers.all, concurrency: 1)
        await pool.drain()
        _ = await pool.perform(request("echo"))
        await pool.drain()
        #expect(pool.inFlight == 0)
    }

    @Test func cancelledDrainReturns() async {
        let recorder = Recorder()
        let pool = WorkerPool(handlers: [BlockingHandler(recorder: recorder)], concurrency: 1)
        let work = Task { await pool.perform(request("block")) }
        await recorder.waitUntil { $0.entered == 1 }
        let drained = Task { await pool.drain() }
        await until { pool.drainingCount == 1 }
        drained.cancel()
        await drained.value
        #expect(pool.drainingCount == 0)
        #expect(pool.inFlight == 1)
        await recorder.release()
        #expect(await work.value.status == 200)
    }

    @Test func cancelledWhileWaitingForASlotIs503() async throws {
        let recorder = Recorder()
        let pool = WorkerPool(handlers: [BlockingHandler(recorder: recorder)], concurrency: 1)
        let first = Task { await pool.perform(request("block")) }
        await recorder.waitUntil { $0.entered == 1 }
        let second = Task { await pool.perform(request("block")) }
        await until { pool.waiting == 1 }
        second.cancel()
        let result = await second.value
        #expect(result.status == 503)
        #expect(try decodeErrorBody(result).error.code == "unavailable")
        #expect(pool.inFlight == 1)
        await recorder.release()
        #expect(await first.value.status == 200)
        // The slot the cancelled item never took is still free.
        let third = Task { await pool.perform(request("block")) }
        await recorder.waitUntil { $0.entered == 2 }
        await recorder.release()
        #expect(await third.value.status == 200)
        #expect(await recorder.snapshot.entered == 2)
    }
}
