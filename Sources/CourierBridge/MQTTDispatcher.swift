import CourierCore
import CourierEngine
import CourierWorkers
import Foundation
import MQTT
import Synchronization

/// Publishes attempts for worker daemons; workers reply to the bridge's own reply topic, which
/// the bridge's MQTT client receives.
///
/// - `shared` (``CourierConfiguration/Workers/Dispatch``): to `courier/work/{operation}`, which
///   workers take through the shared subscription `$share/courier-workers/courier/work/{operation}`.
/// - `direct`: to `courier/workers/{workerId}/work/{operation}` of the live worker with the
///   most free capacity (``DispatchPicker``), counting the attempts in flight with each worker
///   until ``attemptEnded(requestID:)``; a retry goes to another worker when there is one. No
///   shared subscription needed.
///
/// Cancellations go to `courier/cancellations`, which every worker hears.
final class MQTTDispatcher: WorkDispatcher {
    typealias Mode = CourierConfiguration.Workers.Dispatch

    let mode: Mode
    private let client: MQTTClient
    private let directory: WorkerDirectory
    private let topics: Topics
    private let replyTopic: String
    private let assignments = Mutex(Routing())

    private struct Routing {
        var assignments = DispatchAssignments()
        var sinceLastPrune = 0
    }

    /// Direct dispatch forgets requests past their deadline every this many attempts.
    private static let pruneEvery = 1024

    init(client: MQTTClient, directory: WorkerDirectory, topics: Topics, bridgeID: String, mode: Mode = .shared) {
        self.client = client
        self.directory = directory
        self.topics = topics
        self.mode = mode
        replyTopic = topics.bridgeReplies(bridgeID)
    }

    func hasWorker(for operation: String) -> Bool { directory.serves(operation) }

    func dispatch(_ request: HandlerRequest, completion: @escaping @Sendable (DispatchOutcome) -> Void) {
        let topic: String
        switch mode {
        case .shared:
            topic = topics.workTopic(request.operation)
        case .direct:
            guard let worker = route(request) else {
                // Admission saw a worker, or presence had not settled yet (a restarted bridge):
                // left to the attempt timer rather than answered 503 now.
                completion(.failed("no live worker known for \(request.operation)", permanent: false))
                return
            }
            topic = topics.directWork(workerID: worker, operation: request.operation)
        }
        let message = WorkMessage.encode(request, replyTopic: replyTopic, now: unixMillis())
        client.publish(topic, payload: message.payload, qos: .atLeastOnce, properties: message.properties) { [self] result in
            switch result {
            case .success(let ack) where ack.isDelivered:
                completion(.sent)
            case .success where mode == .direct:
                redispatch(request, completion: completion)
            case .success:
                completion(.noWorker)
            case .failure(let error):
                // Not with the worker: it does not count against it.
                attemptEnded(requestID: request.requestID)
                completion(.failed("\(error)", permanent: error.isPermanent))
            }
        }
    }

    func cancel(requestID: String) {
        attemptEnded(requestID: requestID)
        // Fire and forget: a lost cancellation leaves the handler to finish, and its answer is
        // ignored by the bridge, which has ended the request.
        client.publish(topics.cancellations, payload: CancellationMessage.encode(requestID: requestID), qos: .atLeastOnce) { _ in }
    }

    func attemptEnded(requestID: String) {
        guard mode == .direct else { return }
        assignments.withLock { $0.assignments.end(requestID) }
    }

    /// Picks the worker for a direct attempt and counts it in flight there.
    private func route(_ request: HandlerRequest) -> String? {
        let workers = directory.workers(serving: request.operation)
        return assignments.withLock { routing in
            routing.sinceLastPrune += 1
            if routing.sinceLastPrune >= Self.pruneEvery {
                routing.sinceLastPrune = 0
                routing.assignments.prune(now: unixMillis())
            }
            let candidates = workers.map {
                DispatchPicker.Candidate(id: $0.id, concurrency: $0.concurrency, inFlight: routing.assignments.inFlight($0.id))
            }
            guard let worker = DispatchPicker.pick(candidates, avoiding: routing.assignments.worker(of: request.requestID)) else {
                return nil
            }
            routing.assignments.assign(request.requestID, to: worker, deadline: request.deadline)
            return worker
        }
    }

    /// The broker had no subscriber for a direct attempt: the chosen worker is gone, though its
    /// retained presence is not cleared (a worker that disconnected without its Will). It leaves
    /// the directory and the attempt goes to another worker at once; with none left, 503.
    private func redispatch(_ request: HandlerRequest, completion: @escaping @Sendable (DispatchOutcome) -> Void) {
        let worker = assignments.withLock { routing in
            defer { routing.assignments.end(request.requestID) }
            return routing.assignments.worker(of: request.requestID)
        }
        if let worker { directory.remove(worker) }
        guard directory.serves(request.operation) else {
            completion(.noWorker)
            return
        }
        dispatch(request, completion: completion)
    }
}
