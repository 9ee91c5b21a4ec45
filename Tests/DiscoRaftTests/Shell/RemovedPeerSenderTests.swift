import DiscoCore
@testable import DiscoRaft
import DiscoTestKit
import Testing

/// A member that leaves must not leave an outbound sender (a task, a queue, a connection) behind
/// on the leader, which keeps telling it that it was removed for a while after the removal.
@Suite struct RemovedPeerSenderTests {
    @Test("the leader keeps no sender for a removed member once it stops telling it so")
    func removedMemberSenderIsClosed() async throws {
        let cluster = try await ShellCluster.start(["n1", "n2", "n3"])
        defer { Task { await cluster.shutdownAll() } }
        let leader = try await cluster.waitForLeader()
        let removed: NodeID = leader.id == "n3" ? "n2" : "n3"
        let remaining = try #require(cluster.running.first { $0 != leader.id && $0 != removed })
        try await waitUntil("the leader to send to \(removed)") { leader.outboundPeers.contains(removed) }
        _ = try await leader.changeMembership(.remove(removed))
        await cluster.stop(removed)

        // The leader reminds a removed member for four election timeouts (20 ticks); a follower
        // gets a heartbeat every tick, so 100 more messages there mean the reminders are over.
        let follower = try #require(cluster.shell(remaining))
        let received = follower.transportMetrics.messagesReceived
        try await waitUntil("100 more heartbeats at \(remaining)", timeout: .seconds(120)) {
            follower.transportMetrics.messagesReceived >= received + 100
        }
        // Under load leadership may have moved meanwhile (an election is not what is tested): then
        // the old leader, now a follower, must have closed its sender too.
        try await waitUntil("the leader to close its sender for \(removed)", timeout: .seconds(30)) {
            !leader.outboundPeers.contains(removed) && !follower.outboundPeers.contains(removed)
        }
        await cluster.shutdownAll()
    }
}
