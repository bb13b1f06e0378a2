import Testing

@testable import CourierHTTP

@Suite("Prefer: wait")
struct WaitPreferenceTests {
    @Test(arguments: [
        (["wait=5"], 5),
        (["respond-async, wait=10"], 10),
        (["WAIT = 3"], 3),
        (["wait=\"7\""], 7),
        (["wait=600"], 60),
        (["handling=lenient", "wait=2;x=y"], 2),
        (["wait=0"], 0),
    ] as [([String], Int)])
    func parses(_ values: [String], _ seconds: Int) {
        #expect(WaitPreference.seconds(in: values) == seconds)
    }

    @Test(arguments: [[], ["respond-async"], ["wait=-1"], ["wait=soon"], ["wait"]] as [[String]])
    func ignores(_ values: [String]) {
        #expect(WaitPreference.seconds(in: values) == nil)
    }
}
