import DiscoCore
import DiscoSystem
import DiscoTestKit
import HotCold
import LeaseCore
import Glibc
import Testing

/// What the application sees: hooks with the token in their environment, the state file, the
/// /hot and /readyz?hot answers.
@Suite("Hot/cold hooks, state file and API answers")
struct HotColdApplicationTests {
    static let timeout: Duration = .seconds(30)

    /// A fresh directory under /tmp for one test.
    private func temporaryDirectory() throws -> String {
        var template = Array("/tmp/disco-hotcold-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        return try #require(made.map { String(cString: $0) })
    }

    private func read(_ path: String) -> String {
        guard let bytes = try? ProcessEnvironment.readFileIfExists(path) else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func stateFile(_ path: String) -> (state: String, token: Int64)? {
        guard let json = try? JSONValue.parse(read(path)), let state = json["state"]?.stringValue,
              let token = json["token"]?.numberValue?.int64Value else { return nil }
        return (state, token)
    }

    @Test func hooksRunWithTheTokenAndTheStateFileFollowsEveryChange() async throws {
        let directory = try temporaryDirectory()
        let hookLog = directory + "/hooks.log"
        let statePath = directory + "/state.json"
        try await withReplicas(leader: "a") { replicas in
            let a = replicas.start("a") {
                $0.onHot = "echo \"hot $DISCO_FENCING_TOKEN $DISCO_HOT_COLD_GROUP $DISCO_NODE_ID\" >> \(hookLog)"
                $0.onCold = "echo \"cold $DISCO_FENCING_TOKEN $DISCO_HOT_COLD_REASON\" >> \(hookLog)"
                $0.stateFile = statePath
            }
            // (On a loaded runner a replica may miss a deadline and be hot again with the same
            // token: "cold 1 expired" then "hot 1 ..." lines may come between the ones we cause.)
            func lines() -> [String] { read(hookLog).split(separator: "\n").map(String.init) }
            try await waitUntil("the on-hot hook ran", timeout: Self.timeout) { lines().first == "hot 1 default a" }
            try await waitUntil("the state file says hot 1", timeout: Self.timeout) { stateFile(statePath).map { $0 == ("hot", 1) } ?? false }
            a.setUpstreamHealthy(false)
            try await waitUntil("the on-cold hook ran", timeout: Self.timeout) { lines().last?.hasPrefix("cold 1 ") == true }
            try await waitUntil("the state file says cold", timeout: Self.timeout) { stateFile(statePath)?.state == "cold" }
            #expect(stateFile(statePath)?.token == 1)
            // Healthy again and the only candidate: granted anew, with the next token.
            a.setUpstreamHealthy(true)
            try await waitUntil("hot again with token 2", timeout: Self.timeout) { lines().last == "hot 2 default a" }
            try await waitUntil("the state file says hot 2", timeout: Self.timeout) { stateFile(statePath).map { $0 == ("hot", 2) } ?? false }
            let allowed: Set<String> = ["hot 1 default a", "cold 1 unhealthy", "cold 1 expired", "hot 2 default a"]
            #expect(lines().allSatisfy { allowed.contains($0) }, "\(lines())")
            #expect(lines().contains("cold 1 unhealthy") || lines().contains("cold 1 expired"))
            try await waitUntil("the second on-hot run counted", timeout: Self.timeout) { a.metrics.hookRuns("on-hot", .succeeded) >= 2 }
            #expect(a.metrics.hookRuns("on-cold", .succeeded) >= 1)
            #expect(a.metrics.stateFileWrites.failed == 0)
            #expect(access(statePath + ".tmp", F_OK) != 0)
        }
    }

    @Test func aHookThatHangsIsKilledAtItsTimeoutWhileTheLeaseGoesOn() async throws {
        try await withReplicas(leader: "a") { replicas in
            let a = replicas.start("a") {
                $0.onHot = "sleep 30"
                $0.hookTimeout = .seconds(6)
            }
            try await waitUntil("a hot", timeout: Self.timeout) { replicas.hot() == "a" }
            let renewedBefore = a.metrics.renewals(.renewed)
            // The lease loop renews while the hook hangs (every 300 ms; the hook runs 6 s).
            try await waitUntil("two renewals", timeout: Self.timeout) { a.metrics.renewals(.renewed) >= renewedBefore + 2 }
            #expect(a.metrics.hookRuns("on-hot", .timedOut) == 0, "the loop renewed only once the hook had been killed")
            try await waitUntil("the hook timed out", timeout: Self.timeout) { a.metrics.hookRuns("on-hot", .timedOut) == 1 }
            // a holds its lease with the same token.
            try await waitUntil("a hot with token 1", timeout: Self.timeout) { a.gate.fencingToken() == 1 }
            #expect(replicas.logs.lines.contains { $0.contains("hook killed after running longer than") })
        }
    }

    @Test func aHookThatFailsIsLoggedAndCounted() async throws {
        try await withReplicas(leader: "a") { replicas in
            let a = replicas.start("a") { $0.onHot = "exit 3" }
            try await waitUntil("the hook failed", timeout: Self.timeout) { a.metrics.hookRuns("on-hot", .failed) == 1 }
            #expect(replicas.logs.lines.contains { $0.contains("-on-hot hook failed: exited with status 3") })
            try await waitUntil("a hot with token 1", timeout: Self.timeout) { a.gate.fencingToken() == 1 }
        }
    }

    @Test func anUnwritableStateFileIsLoggedAndCountedAndTheLeaseGoesOn() async throws {
        try await withReplicas(leader: "a") { replicas in
            let a = replicas.start("a") { $0.stateFile = "/nonexistent-directory/state.json" }
            try await waitUntil("a hot", timeout: Self.timeout) { replicas.hot() == "a" }
            try await waitUntil("the failed writes counted", timeout: Self.timeout) { a.metrics.stateFileWrites.failed >= 1 }
            #expect(replicas.logs.lines.contains { $0.contains("cannot write -hot-state-file") && $0.contains("No such file") })
        }
    }

    // MARK: API answers

    private func status(state: HotColdStatus.State = .cold, holder: NodeID? = "b", reason: LeaseHolder.ColdReason? = .superseded,
                        healthy: Bool = true) -> HotColdStatus {
        HotColdStatus(group: "orders", node: "a", state: state, token: 4, sinceWallNanoseconds: 1_700_000_000_123_000_000,
                      coldReason: reason, holder: holder, leaseToken: 5, healthy: healthy, priority: 3)
    }

    @Test func hotAnswersWhoIsHotAndThisReplicasState() throws {
        let response = HotColdAPI.hot(status())
        #expect(response.status == 200)
        #expect(response.contentType == "application/json")
        let json = try JSONValue.parse(response.body)
        #expect(json["hot"]?.stringValue == "b")
        #expect(json["token"]?.numberValue?.int64Value == 5)
        #expect(json["node"]?.stringValue == "a")
        #expect(json["state"]?.stringValue == "cold")
        #expect(json["node_token"]?.numberValue?.int64Value == 4)
        #expect(json["since"]?.stringValue == "2023-11-14T22:13:20.123Z")
        #expect(json["reason"]?.stringValue == "superseded")
        #expect(json["group"]?.stringValue == "orders")
        #expect(json["priority"]?.numberValue?.int64Value == 3)
    }

    @Test func readinessIsOKOnlyWithAToken() {
        #expect(HotColdAPI.hotReadiness(status(state: .hot), token: 5).status == 200)
        let cold = HotColdAPI.hotReadiness(status(healthy: false), token: nil)
        #expect(cold.status == 503)
        let text = cold.text
        #expect(text.contains("superseded") && text.contains("upstream unhealthy") && text.contains("the hot replica is b"))
        // The status may still say hot while the gate already refuses a token: the token decides.
        #expect(HotColdAPI.hotReadiness(status(state: .hot), token: nil).status == 503)
    }

    @Test func theReadinessQueryIsParsedStrictly() {
        #expect(HotColdAPI.asksForHot(query: nil) == .success(false))
        #expect(HotColdAPI.asksForHot(query: "hot") == .success(true))
        #expect(HotColdAPI.asksForHot(query: "verbose&hot=1") == .success(true))
        #expect(HotColdAPI.asksForHot(query: "hot=true") == .success(true))
        #expect(HotColdAPI.asksForHot(query: "hot=0") == .success(false))
        #expect(HotColdAPI.asksForHot(query: "hotness") == .success(false))
        guard case .failure(let error) = HotColdAPI.asksForHot(query: "hot=maybe") else {
            Issue.record("hot=maybe accepted")
            return
        }
        #expect(error.message.contains("hot=maybe") && error.message.contains("hot=true"))
    }

    @Test func aChangeIsAnEventBody() throws {
        let change = HotColdChange(group: "orders", node: "b", state: .cold, token: 3, reason: .moved,
                                   wallNanoseconds: 1_700_000_000_123_000_000)
        let json = change.eventJSON
        #expect(json["type"]?.stringValue == "hot-cold")
        #expect(json["roles"]?.arrayValue?.compactMap(\.stringValue) == ["hot-cold"])
        #expect(json["state"]?.stringValue == "cold")
        #expect(json["token"]?.numberValue?.int64Value == 3)
        #expect(json["reason"]?.stringValue == "moved")
        #expect(json["at"]?.stringValue == "2023-11-14T22:13:20.123Z")
    }

    @Test func theStateFileHoldsStateTokenAndSince() throws {
        let content = HotColdStateFile.content(status(state: .hot))
        #expect(content.last == UInt8(ascii: "\n"))
        let json = try JSONValue.parse(Array(content.dropLast()))
        #expect(json["state"]?.stringValue == "hot")
        #expect(json["token"]?.numberValue?.int64Value == 4)
        #expect(json["since"]?.stringValue == "2023-11-14T22:13:20.123Z")
        #expect(json["group"]?.stringValue == "orders")
    }

    @Test func pastItsDeadlineTheGateSaysSuspendedAndAResumeStartsANewPeriodWithTheSameToken() throws {
        let gate = HotColdGate(status: HotColdStatus(group: "orders", node: "a", sinceWallNanoseconds: 0))
        let start = ContinuousClock.now
        gate.markHot(token: 4, until: start + .milliseconds(400), now: start, wallNanoseconds: 1_000)
        #expect(gate.fencingToken(at: start + .milliseconds(399)) == 4)
        // Past the deadline: no token, and the status (what the state file and /hot show) says suspended.
        let later = start + .milliseconds(450)
        #expect(gate.fencingToken(at: later) == nil)
        let suspended = gate.status(at: later)
        #expect(suspended.state == .suspended && suspended.token == 4 && suspended.coldReason == nil)
        #expect(suspended.stateFileJSON["state"]?.stringValue == "suspended")
        // A renewal committed: hot again with the same token and since, in a new hot period.
        gate.markHot(token: 4, until: later + .milliseconds(400), now: later, wallNanoseconds: 2_000)
        #expect(gate.fencingToken(at: later) == 4)
        let resumed = gate.status(at: later)
        #expect(resumed.state == .hot && resumed.token == 4 && resumed.sinceWallNanoseconds == 1_000)
        let periods = gate.recentHotPeriods
        #expect(periods.count == 2 && periods[0].until == start + .milliseconds(400) && periods[1].from == later)
    }

    @Test func aGroupNameWithQuotesOrBackslashesKeepsTheMetricsReadable() throws {
        let name = #"or"ders\x"#
        let group = try #require(LeaseGroup(name), "the flag accepts quotes and backslashes in a group name")
        let status = HotColdStatus(group: group, node: "a", sinceWallNanoseconds: 0)
        let text = HotColdMetrics().prometheusText(status: status)
        #expect(text.contains(#"disco_hot_cold_hot{group="or\"ders\\x"} 0"#), "\(text)")
        #expect(text.contains(#"disco_hot_cold_renewals_total{group="or\"ders\\x",result="renewed"} 0"#), "\(text)")
    }
}
