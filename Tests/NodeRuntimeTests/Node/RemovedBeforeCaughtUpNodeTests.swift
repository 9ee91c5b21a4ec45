import DiscoCore
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Synchronization
import Testing

/// A node removed before its Raft log had the entry that added it holds no configuration naming
/// it: no member tells it in Raft (the leader sends a removed node nothing, and a notice to a
/// node that is not in its own configuration is not proof). It learns through the API instead,
/// and a node that is still a member is never told it was removed.
@Suite struct RemovedBeforeCaughtUpNodeTests {
    /// `second` joins `first` as a non-voter whose advertised internode address nobody listens
    /// on: the leader adds it but its Raft messages never reach it, so it never catches up.
    static func unreachableNonVoter(joining first: TestNodeSetup) throws -> TestNodeSetup {
        var second = try TestNodeSetup(id: "u2", prefix: "disco-removed-early")
        second.joinAsNonVoter(of: first)
        second.configuration.internode.advertisedAddress = PeerAddress(host: "127.0.0.1", port: try FreePort.loopback())
        second.configuration.timing.removedLinger = .milliseconds(100)
        return second
    }

    /// u1 leading, then u2 started and recorded by u1 as a learner.
    static func startLeaderAndLearner(_ first: TestNodeSetup, _ second: TestNodeSetup) async throws -> (leader: RunningNode, joiner: RunningNode) {
        let leader = try await RunningNode.start(first.configuration)
        try await waitUntil("u1 to lead", timeout: .seconds(120)) { leader.node.consensus.status.isLeader && leader.node.store.epoch != nil }
        let joiner = try await RunningNode.start(second.configuration)
        try await waitUntil("u2 to be a learner", timeout: .seconds(120)) { leader.node.consensus.status.learners.contains("u2") }
        return (leader, joiner)
    }

    @Test func aNodeRemovedBeforeItCaughtUpLearnsItAndStops() async throws {
        let first = try TestNodeSetup(id: "u1", prefix: "disco-removed-early")
        let second = try Self.unreachableNonVoter(joining: first)
        defer { first.removeDirectory(); second.removeDirectory() }
        let (leader, joiner) = try await Self.startLeaderAndLearner(first, second)
        #expect(joiner.node.consensus.status.members.isEmpty, "u2 was not to hear from the leader")

        let client = HTTPClient()
        let answer = try await client.send(HTTPClientRequest(method: "DELETE", url: first.apiURL + "/remove", body: Array(#"{"id":"u2"}"#.utf8)))
        #expect(answer.status == 200, "\(answer.bodyText)")
        try await waitUntil("u2 to know it was removed", timeout: .seconds(120)) { joiner.node.removal != nil }
        let failure = await joiner.outcome()
        #expect("\(failure.map { "\($0)" } ?? "none")".contains("u2 was removed from the cluster (a leader answered that it is no longer a member)"))
        #expect(await leader.stop() == nil)
        await client.shutdown()
    }

    /// Removed as soon as the leader recorded its join: whether it caught up first or not (it
    /// may have heard the leader once, and named it as leader since), it learns it and stops.
    @Test func aNonVoterRemovedRightAfterItJoinedStopsByItself() async throws {
        let first = try TestNodeSetup(id: "j1", prefix: "disco-removed-early")
        var second = try TestNodeSetup(id: "j2", prefix: "disco-removed-early")
        defer { first.removeDirectory(); second.removeDirectory() }
        second.joinAsNonVoter(of: first)
        second.configuration.timing.removedLinger = .milliseconds(100)
        let leader = try await RunningNode.start(first.configuration)
        try await waitUntil("j1 to lead", timeout: .seconds(120)) { leader.node.consensus.status.isLeader && leader.node.store.epoch != nil }
        let joiner = try await RunningNode.start(second.configuration)
        try await waitUntil("j2's member record", timeout: .seconds(120)) { leader.node.store.member("j2") != nil }
        let client = HTTPClient()
        let answer = try await client.send(HTTPClientRequest(method: "DELETE", url: first.apiURL + "/remove", body: Array(#"{"id":"j2"}"#.utf8)))
        #expect(answer.status == 200, "\(answer.bodyText)")
        try await waitUntil("j2 to know it was removed", timeout: .seconds(120)) { joiner.node.removal != nil }
        #expect(await joiner.outcome() != nil)
        #expect(await leader.stop() == nil)
        await client.shutdown()
    }

    @Test func aNodeThatIsStillAMemberIsNotToldItWasRemoved() async throws {
        let first = try TestNodeSetup(id: "u1", prefix: "disco-removed-early")
        let second = try Self.unreachableNonVoter(joining: first)
        defer { first.removeDirectory(); second.removeDirectory() }
        let (leader, joiner) = try await Self.startLeaderAndLearner(first, second)
        let joins = leader.node.metrics.joinsAccepted.load(ordering: .relaxed)
        // Without a leader, u2 asks again and again; the leader, which has it, accepts each time.
        try await waitUntil("u2 to ask twice whether it is still a member", timeout: .seconds(120)) {
            leader.node.metrics.joinsAccepted.load(ordering: .relaxed) >= joins + 2
        }
        #expect(joiner.node.removal == nil)
        #expect(leader.node.consensus.status.learners.contains("u2"))
        #expect(await joiner.stop() == nil)
        #expect(await leader.stop() == nil)
    }
}
