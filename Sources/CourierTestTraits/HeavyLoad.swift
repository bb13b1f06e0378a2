import Testing

/// A test that loads the machine for many seconds (thousands of requests or messages through
/// real daemons and a real broker): such tests take turns, at most two at a time.
///
/// Swift Testing starts every test of the process together. On the 2-core CI machine the
/// half-dozen load tests, each a broker, one to three daemons and a fleet of devices, then all
/// ran at once: each got a sliver of a core, and a good request now and then waited past its
/// 5 s deadline (a CI run saw a hostile storm's request answered 504, and 33 of a cluster's
/// 1,000 requests time out, in the same minute). Two at a time keeps them within their
/// deadlines and the suite well within its time limits. `@Test(.heavyLoad)`.
package struct HeavyLoadTrait: SuiteTrait, TestTrait, TestScoping {
    package var isRecursive: Bool { true }

    package func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        // Once per test case: not for the suite around them, so that nothing takes two turns.
        guard testCase != nil else { return try await function() }
        await HeavyLoadSlots.shared.acquire()
        do {
            try await function()
        } catch {
            await HeavyLoadSlots.shared.release()
            throw error
        }
        await HeavyLoadSlots.shared.release()
    }
}

extension Trait where Self == HeavyLoadTrait {
    /// Takes turns with the other load tests, at most two at a time.
    package static var heavyLoad: Self { Self() }
}

/// The two turns the load tests share, handed out in the order they were asked for.
private actor HeavyLoadSlots {
    static let shared = HeavyLoadSlots()

    private var free = 2
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
