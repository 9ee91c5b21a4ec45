import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Raft connections named with -cluster-name, between discod processes

extension NodeProcessTests {
    @Suite struct ClusterNameRaft {
        /// A follower of cluster alpha crashes, and a node of cluster beta starts with its ID and
        /// ports (pods of two namespaces with the same names), no gossip key on either side. It
        /// waits for a second beta node that never comes (`-bootstrap-expect 2`), so it has no
        /// Raft state for as long as the test runs, while alpha's leader keeps sending heartbeats
        /// to the address it knows. A node without Raft state follows the first leader that
        /// reaches it (that is how a learner joins): unless alpha's connections are refused for
        /// naming another cluster, beta's node takes alpha's term and leader.
        @Test func aNodeWithoutRaftStateRefusesTheLeaderOfAnotherCluster() async throws {
            try await DiscodCluster.with("raft-name-alpha") { alphaCluster in
                try await DiscodCluster.with("raft-name-beta") { betaCluster in
                    let ports = try DiscodCluster.ports(count: 4)
                    let alphaPorts = Array(ports.prefix(3))
                    let flags = NodeTests.seedFlags(expect: 3, join: alphaPorts) + ["-cluster-name", "alpha"]
                    let alpha = try alphaPorts.enumerated().map { try alphaCluster.start(id: "\($0 + 1)", ports: $1, flags: flags) }
                    let leaderID = try await DiscodCluster.waitForLeader(alpha)
                    let (leader, followers) = try NodeTests.split(alpha, leader: leaderID)
                    let crashed = followers[0]
                    let crashedPorts = try #require(alphaPorts.first { $0.raft == crashed.raftPort })
                    await crashed.kill()

                    // Its only peer (ports[3]) never starts: it stays without Raft state.
                    let betaFlags = NodeTests.seedFlags(expect: 2, join: [crashedPorts, ports[3]]) + ["-cluster-name", "beta"]
                    let impostor = try betaCluster.start(id: crashed.nodeID, ports: crashedPorts, flags: betaFlags)
                    var adopted = false
                    try await NodeTests.eventually("beta's node to refuse alpha's leader three times, or to follow it",
                                                   [leader, impostor], timeout: .seconds(90)) {
                        if let heard = await impostor.leaderID(), !heard.isEmpty { adopted = true }
                        if let term = try? await impostor.status()["term"]?.numberValue?.uint64Value, term > 0 { adopted = true }
                        if adopted { return true }
                        return await GossipEncryption.metric(impostor, "disco_raft_cluster_refused_total") ?? 0 >= 3
                    }
                    #expect(!adopted, "beta's node followed alpha's leader \(leaderID):\n\(NodeTests.logs([leader, impostor]))")
                    #expect(await impostor.leaderID() == nil)
                    #expect(try await firstAnswer("beta's node's term") { try await impostor.status()["term"]?.numberValue?.uint64Value } == 0)
                    #expect(impostor.process.output.contains(#"its Raft comes from cluster \"alpha\", this node's cluster is \"beta\""#),
                            "\(impostor.process.output.suffix(3000))")
                    // Alpha's own members still name their cluster and are heard: nothing refused there.
                    #expect(try await firstAnswer("alpha's leader's refusals") {
                        await GossipEncryption.metric(leader, "disco_raft_cluster_refused_total")
                    } == 0)
                    #expect(try await firstAnswer("alpha's leader's unlabelled connections") {
                        await GossipEncryption.metric(leader, "disco_raft_unlabelled_accepted_total")
                    } == 0)
                }
            }
        }
    }
}
