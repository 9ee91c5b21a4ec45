import DiscoTestKit
import Foundation
import RateLimitCore
import Testing

/// The core against real nginx 1.22 (Debian `nginx-light`): each catalog trace is sent to nginx
/// configured with the same `limit_req_zone`/`limit_req`, and the core, fed the times the
/// requests were actually sent, must decide the same for every request: passed, delayed (nginx
/// holds the request; its measured delay must be within −10…+150 ms of the core's) or rejected
/// with the same status, and the same `$limit_req_status`. Traces stay clear of decision
/// boundaries by their ``RateLimitScenario/jitter`` (40 ms for most); a run in which a request
/// was sent or seen later than that is repeated (three tries), as it cannot judge anything.
@Suite(.serialized) struct NginxDifferentialTests {
    @Test(arguments: RateLimitScenario.catalog.map(\.scenario.name))
    func theCoreDecidesLikeNginx(name: String) async throws {
        let entry = try #require(RateLimitScenario.catalog.first { $0.scenario.name == name })
        let comparison = try await RateLimitDifferential.run(entry.scenario, on: NginxLimitReqSystem())
        if ProcessInfo.processInfo.environment["DISCO_DIFFERENTIAL_VERBOSE"] != nil { print("\(name):\n\(comparison.table)") }
        #expect(comparison.inconclusive == nil, "\(comparison.inconclusive ?? "")\n\(comparison.table)")
        #expect(comparison.mismatches.isEmpty, "\(comparison.mismatches.count) mismatches:\n\(comparison.table)")
    }
}

/// The catalog's traces themselves: robust to their timing budget, and exercising what they claim.
@Suite struct RateLimitScenarioTests {
    @Test(arguments: RateLimitScenario.catalog.map(\.scenario.name))
    func traceIsRobustAndCoversItsCase(name: String) async throws {
        let entry = try #require(RateLimitScenario.catalog.first { $0.scenario.name == name })
        let scenario = entry.scenario
        let problems = await CPUBoundWork.run { scenario.robustnessProblems() }
        #expect(problems.isEmpty, "\(problems.prefix(3).joined(separator: "\n"))")
        let produced = Set(entry.scenario.nominalDecisions.map(\.nginxStatus))
        #expect(entry.mustInclude.isSubset(of: produced), "produces only \(produced.sorted())")
    }

    @Test func aTraceOnADecisionBoundaryIsNotRobust() {
        var scenario = RateLimitScenario(name: "fragile", zones: [LimitReqZone(name: "one", rate: LimitRate(requests: 10, per: .perSecond))],
                                         policy: LimitReqPolicy(limits: [LimitReq(zone: 0)]))
        scenario.send(at: 0, client: 1)
        scenario.send(at: 100, client: 1)  // exactly one interval later: 5 ms earlier is a rejection
        #expect(!scenario.robustnessProblems(jitter: 40).isEmpty)
        scenario.requests[1].offset = 140
        #expect(!scenario.robustnessProblems(jitter: 40).isEmpty)  // the first 40 ms late: 95 ms apart
        scenario.requests[1].offset = 200
        #expect(scenario.robustnessProblems(jitter: 40).isEmpty)
    }

    @Test func theTwoZoneTraceSeparatesChargingFromNotCharging() {
        // Rejected by the per-app zone, request 2 must not count for the per-client zone: the
        // per-client zone then rejects request 13 (not 12).
        let decisions = RateLimitScenario.twoZones.nominalDecisions
        #expect(decisions[2].outcome == .rejected(status: 503) && decisions[2].limit == 1)
        #expect(decisions[11].outcome == .passed)
        #expect(decisions[12].outcome == .rejected(status: 503) && decisions[12].limit == 0)
    }

    @Test func theComparisonFlagsWrongStatusesAndDelays() {
        let scenario = RateLimitScenario.dryRun
        var observations = scenario.requests.map { request in
            RateLimitObservation(sentAt: (10_000 + request.offset) * 1000, lateness: 0, status: 200, latency: 1000, reportedStatus: nil)
        }
        #expect(RateLimitDifferential.compare(scenario, observations, jitter: 40).mismatches.isEmpty)
        observations[2].reportedStatus = "PASSED"
        observations[1].status = 503
        let comparison = RateLimitDifferential.compare(scenario, observations, jitter: 40)
        #expect(comparison.mismatches.count == 2)
        observations[0].lateness = 41_000
        #expect(RateLimitDifferential.compare(scenario, observations, jitter: 40).inconclusive != nil)
    }

    @Test func earlyAnswersMismatchLateOnesAreInconclusive() {
        let scenario = RateLimitScenario.burstPaced  // request 1 is delayed 200 ms
        var observations = scenario.requests.map { request in
            RateLimitObservation(sentAt: (10_000 + request.offset) * 1000, lateness: 0, status: 200, latency: 1000, reportedStatus: nil)
        }
        for (index, decision) in scenario.decisions(at: observations.map { $0.sentAt / 1000 }).enumerated() {
            switch decision.action {
            case .forward: break
            case .forwardAfter(let milliseconds): observations[index].latency = milliseconds * 1000 + 3000
            case .reject(let status): observations[index].status = status
            }
        }
        #expect(RateLimitDifferential.compare(scenario, observations, jitter: 40).mismatches.isEmpty)
        observations[1].latency = 150_000  // 50 ms early
        #expect(RateLimitDifferential.compare(scenario, observations, jitter: 40).mismatches.count == 1)
        observations[1].latency = 600_000  // 400 ms late
        let late = RateLimitDifferential.compare(scenario, observations, jitter: 40)
        #expect(late.mismatches.isEmpty)
        #expect(late.inconclusive?.contains("request 1 was answered after 600 ms") == true)
    }
}
