import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import RaftCore
import Testing

// MARK: - Raft sealed with the gossip key, between discod processes

extension NodeProcessTests {
    @Suite struct SealedRaft {
        /// A forged Raft vote (term + 1000, a leadership transfer, from a node nobody knows) sent
        /// in plain to a follower's internode port moves the cluster's term when the nodes run
        /// without a key, and is refused, naming why, when they run with `-gossip-key`: the
        /// term stays and writes go on.
        @Test(arguments: [false, true]) func aForgedVoteMovesTheTermOnlyWithoutTheGossipKey(keyed: Bool) async throws {
            try await DiscodCluster.with("sealed-raft") { cluster in
                let ports = try DiscodCluster.ports(count: 3)
                let flags = NodeTests.seedFlags(expect: 3, join: ports) + (keyed ? ["-gossip-key", GossipEncryption.keyA] : [])
                let nodes = try ports.enumerated().map { try cluster.start(id: "\($0 + 1)", ports: $1, flags: flags) }
                let leaderID = try await DiscodCluster.waitForLeader(nodes)
                #expect(try await nodes[0].appendEvent(#"{"before":"forgery"}"#) != nil)
                let (_, followers) = try NodeTests.split(nodes, leader: leaderID)
                let target = followers[0]
                let term = try #require(try await firstAnswer("GET /status on the target") { try await target.status() }["term"]?.numberValue?.uint64Value)

                let targetID = try #require(NodeID(target.nodeID))
                let forged = Message(from: "forger", to: targetID, term: term + 1000,
                                     body: .vote(lastIndex: 1 << 40, lastTerm: term + 999, transfer: true))
                let address = try #require(SocketAddress(numericHost: "127.0.0.1", port: target.raftPort))
                let client = try RawSocketClient(connectTo: address)
                try client.send(Frame(type: 1, payload: RaftCodec.encode(forged)).encoded())

                if keyed {
                    try await NodeTests.eventually("the follower to refuse the plain frame", nodes) {
                        target.process.output.contains("a plain Raft frame, but this node requires Raft frames sealed with its gossip key")
                    }
                    #expect(try await client.isClosedByPeer())
                    #expect(try await firstAnswer("the refused Raft connections metric") { await GossipEncryption.metric(target, "disco_raft_connections_refused_total") } == 1)
                    #expect(try await nodes[1].appendEvent(#"{"after":"forgery"}"#) != nil)
                    for node in nodes {
                        let now = try #require(try await firstAnswer("GET /status on node \(node.nodeID)") { try await node.status() }["term"]?.numberValue?.uint64Value)
                        #expect(now < term + 1000, "node \(node.nodeID) moved to term \(now) on a forged vote")
                    }
                } else {
                    try await NodeTests.eventually("the forged vote to move the follower's term", nodes) {
                        (try? await target.status()["term"]?.numberValue?.uint64Value).flatMap { $0 } ?? 0 >= term + 1000
                    }
                    #expect(try await firstAnswer("the refused Raft connections metric") { await GossipEncryption.metric(target, "disco_raft_connections_refused_total") } == 0)
                }
            }
        }
    }
}
