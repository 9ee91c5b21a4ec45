import DiscoCore
import DiscoTestKit
import Testing

@Suite struct ProbeTrackerTests {
    static func spec(_ extra: String = "") throws -> ProbeSpec {
        let container = try ContainerSpec(ManifestNode(try JSONValue.parse("""
            {"name":"c","ports":[{"name":"http","containerPort":4001}],
             "readinessProbe":{"httpGet":{"path":"/readyz","port":"http"},"periodSeconds":5,"initialDelaySeconds":2\(extra)}}
            """), location: "c:"))
        return try #require(container.readinessProbe)
    }

    let start = ContinuousClock.now

    @Test func defaultsAreTheKubeletsAndDelaysAreScaled() throws {
        let spec = try Self.spec()
        #expect(spec.timeoutSeconds == 1 && spec.failureThreshold == 3 && spec.successThreshold == 1)
        let tracker = ProbeTracker(kind: .readiness, spec: spec, containerStarted: start, timeScale: 0.1)
        #expect(!tracker.isDue(at: start + .milliseconds(199)))
        #expect(tracker.isDue(at: start + .milliseconds(200)))
        #expect(tracker.verdict == .unknown)
    }

    @Test func readinessNeedsItsSuccessesAndLosesItAfterItsFailures() throws {
        var tracker = ProbeTracker(kind: .readiness, spec: try Self.spec(#","successThreshold":2,"failureThreshold":2"#),
                                   containerStarted: start, timeScale: 1)
        #expect(tracker.record(success: false, at: start) == nil)
        #expect(tracker.record(success: true, at: start) == nil)
        #expect(tracker.record(success: true, at: start) == .passing)
        #expect(tracker.nextDue == start + .seconds(5))
        #expect(tracker.record(success: false, at: start) == nil, "one failure is below the threshold")
        #expect(tracker.record(success: true, at: start) == nil)
        #expect(tracker.record(success: false, at: start) == nil)
        #expect(tracker.record(success: false, at: start) == .failed)
    }

    @Test func livenessStartsPassingAndFailsAfterConsecutiveFailures() throws {
        var tracker = ProbeTracker(kind: .liveness, spec: try Self.spec(), containerStarted: start, timeScale: 1)
        #expect(tracker.verdict == .passing)
        #expect(tracker.record(success: false, at: start) == nil)
        #expect(tracker.record(success: false, at: start) == nil)
        #expect(tracker.record(success: true, at: start) == nil, "a success resets the count")
        #expect(tracker.record(success: false, at: start) == nil)
        #expect(tracker.record(success: false, at: start) == nil)
        #expect(tracker.record(success: false, at: start) == .failed)
    }

    @Test func startupPassesOnceAndIsThenDecided() throws {
        var tracker = ProbeTracker(kind: .startup, spec: try Self.spec(), containerStarted: start, timeScale: 1)
        #expect(tracker.record(success: false, at: start) == nil)
        #expect(tracker.record(success: true, at: start) == .passing)
        #expect(tracker.record(success: false, at: start) == nil)
        #expect(tracker.verdict == .passing)
        var failing = ProbeTracker(kind: .startup, spec: try Self.spec(), containerStarted: start, timeScale: 1)
        _ = failing.record(success: false, at: start)
        _ = failing.record(success: false, at: start)
        #expect(failing.record(success: false, at: start) == .failed)
    }

    @Test func aScaledProbeKeepsItsWallClockFailureBudget() throws {
        var tracker = ProbeTracker(kind: .startup, spec: try Self.spec(), containerStarted: start, timeScale: 0.1)
        #expect(tracker.failureBudget == 30)
        for _ in 1..<30 { #expect(tracker.record(success: false, at: start) == nil) }
        #expect(tracker.record(success: false, at: start) == .failed)
    }

    @Test func onlyHTTPProbesAreRun() {
        #expect(throws: ManifestError.self) {
            try ContainerSpec(ManifestNode(try JSONValue.parse(#"{"name":"c","livenessProbe":{"exec":{"command":["true"]}}}"#), location: "c:"))
        }
    }
}
