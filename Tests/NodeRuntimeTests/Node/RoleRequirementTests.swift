import DiscoCore
import DiscoLifecycle
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Synchronization
import Testing

/// `-requires` and `-bootstrap-needs` on one node (the process tests cover other members).
@Suite struct RoleRequirementTests {
    /// Records whether it ran.
    final class Flag: Role {
        let name = "flag"
        private let flag = Atomic<Bool>(false)
        var started: Bool { flag.load(ordering: .relaxed) }
        func run(_ context: RoleContext) async throws {
            flag.store(true, ordering: .relaxed)
            try await gracefulShutdown()
        }
    }

    @Test func anUnmetRequirementMakesReadyzAnswer503NamingTheRole() async throws {
        var setup = try TestNodeSetup(id: "q1", prefix: "disco-requires")
        defer { setup.removeDirectory() }
        setup.configuration.cluster.requires = ["dns"]
        setup.configuration.cluster.roles = ["host"]
        let running = try await RunningNode.start(setup.configuration)
        let client = HTTPClient()
        try await waitUntil("q1 to lead", timeout: .seconds(120)) { running.node.keyValues(namespace: "x").revision > 0 }
        let ready = try await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz"))
        #expect(ready.status == 503)
        #expect(ready.bodyText.contains("not ready: requires role dns: no live member performs it"), "\(ready.bodyText)")
        #expect(try JSONValue.parse(ready.body)["missing_role"] == "dns")
        let metrics = try await client.send(HTTPClientRequest(url: setup.apiURL + "/metrics")).bodyText
        #expect(metrics.contains("disco_role_requirements_unmet 1\n"))
        #expect(metrics.contains("disco_role_live_members{role=\"dns\"} 0\n"))
        #expect(metrics.contains("disco_role_live_members{role=\"host\"} 1\n"))
        #expect(await running.stop() == nil)

        // The node itself performing the role meets the requirement.
        var itself = try TestNodeSetup(id: "q2", prefix: "disco-requires")
        defer { itself.removeDirectory() }
        itself.configuration.cluster.requires = ["dns"]
        itself.configuration.cluster.roles = ["dns"]
        let second = try await RunningNode.start(itself.configuration)
        try await waitUntil("q2 to be ready", timeout: .seconds(120)) {
            (try? await client.send(HTTPClientRequest(url: itself.apiURL + "/readyz")))?.status == 200
        }
        #expect(await second.stop() == nil)
        await client.shutdown()
    }

    @Test func bootstrapNeedsHoldTheRolesBackAndLogWhatTheyWaitFor() async throws {
        var setup = try TestNodeSetup(id: "b1", prefix: "disco-bootstrap-needs")
        defer { setup.removeDirectory() }
        setup.configuration.cluster.bootstrapNeeds = ["dns"]
        setup.configuration.cluster.bootstrapNeedsLogInterval = .milliseconds(100)
        let sink = MemoryLogSink()
        let role = Flag()
        let running = try await RunningNode.start(setup.configuration, logger: testLogger(.info, sink: sink), roles: [role])
        let client = HTTPClient()
        try await waitUntil("the wait to be logged twice", timeout: .seconds(120)) {
            sink.lines.filter { $0.contains("waiting for a live member performing dns (-bootstrap-needs)") }.count >= 2
        }
        let ready = try await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz"))
        #expect(ready.status == 503)
        #expect(ready.bodyText.contains("waiting for a live member performing dns (-bootstrap-needs)"), "\(ready.bodyText)")
        #expect(!role.started)
        let metrics = try await client.send(HTTPClientRequest(url: setup.apiURL + "/metrics")).bodyText
        #expect(metrics.contains("disco_bootstrap_needs_waiting 1\n"))
        // Stopping while waiting (the cluster formed) is a clean stop; the role never ran.
        try await waitUntil("b1 to lead", timeout: .seconds(120)) { running.node.keyValues(namespace: "x").revision > 0 }
        #expect(!role.started)
        #expect(await running.stop() == nil)
        #expect(!role.started)

        // Met by the node itself: the role starts.
        var met = try TestNodeSetup(id: "b2", prefix: "disco-bootstrap-needs")
        defer { met.removeDirectory() }
        met.configuration.cluster.bootstrapNeeds = ["dns"]
        met.configuration.cluster.roles = ["dns"]
        let metSink = MemoryLogSink()
        let metRole = Flag()
        let second = try await RunningNode.start(met.configuration, logger: testLogger(.info, sink: metSink), roles: [metRole])
        try await waitUntil("the role to start", timeout: .seconds(120)) { metRole.started }
        #expect(metSink.lines.contains { $0.contains("bootstrap needs met (dns by b2)") })
        // Stopped once formed (a stop during the bootstrap is reported as one).
        try await waitUntil("b2 to lead", timeout: .seconds(120)) { second.node.keyValues(namespace: "x").revision > 0 }
        let stopped = await second.stop()
        #expect(stopped == nil, "\(String(describing: stopped))\n\(metSink.lines.suffix(30).joined(separator: "\n"))")
        await client.shutdown()
    }

    /// A node that performed `dns` and is restarted without it must not count its own old record
    /// (committed before the restart) as a live member performing `dns`: it announces what it
    /// performs now.
    @Test func aNodeRestartedWithoutARoleDoesNotMeetItsOwnNeedWithItsOldRecord() async throws {
        let first = try TestNodeSetup(id: "s1", prefix: "disco-stale-roles")
        var second = try TestNodeSetup(id: "s2", prefix: "disco-stale-roles")
        defer {
            first.removeDirectory()
            second.removeDirectory()
        }
        second.configuration.cluster.roles = ["dns"]
        second.joinAsNonVoter(of: first)
        let leader = try await RunningNode.start(first.configuration)
        try await waitUntil("s1 to lead", timeout: .seconds(120)) { leader.node.keyValues(namespace: "x").revision > 0 }
        var follower = try await RunningNode.start(second.configuration)
        try await waitUntil("s2's record with dns on s2", timeout: .seconds(120)) {
            follower.node.keyValues(namespace: "x").revision > 0 && follower.node.store.member("s2")?.roles == ["dns"]
        }
        #expect(await follower.stop() == nil)

        // Restarted performing nothing, needing dns and requiring it: nobody performs dns now.
        second.configuration.cluster.roles = []
        second.configuration.cluster.bootstrapNeeds = ["dns"]
        second.configuration.cluster.requires = ["dns"]
        let sink = MemoryLogSink()
        let role = Flag()
        follower = try await RunningNode.start(second.configuration, logger: testLogger(.info, sink: sink), roles: [role])
        let client = HTTPClient()
        try await waitUntil("s2's record without dns on s2", timeout: .seconds(120)) {
            follower.node.store.member("s2")?.roles == ["flag"]
        }
        #expect(!role.started, "\(sink.lines.filter { $0.contains("bootstrap needs") }.joined(separator: "\n"))")
        let ready = try await client.send(HTTPClientRequest(url: second.apiURL + "/readyz"))
        #expect(ready.status == 503 && ready.bodyText.contains("waiting for a live member performing dns"), "\(ready.bodyText)")
        #expect(await follower.stop() == nil)
        #expect(await leader.stop() == nil)
        await client.shutdown()
    }

    @Test func theConfigurationRefusesBadRoleNames() {
        var configuration = NodeConfiguration(nodeID: "v1", dataDirectory: "/tmp/x")
        configuration.cluster.requires = ["Dns"]
        #expect(throws: NodeConfigurationError.self) { try configuration.validate() }
        configuration.cluster.requires = []
        configuration.cluster.bootstrapNeeds = ["-dns"]
        do {
            try configuration.validate()
            Issue.record("accepted")
        } catch {
            #expect(error.property == "cluster.bootstrapNeeds")
        }
    }
}
