import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - Plaintext gossip labelled with -cluster-name, between discod processes

extension NodeProcessTests {
    @Suite struct ClusterLabel {
        static func metric(_ node: DiscodProcess, _ name: String) async -> Int? {
            await NodeProcessTests.GossipEncryption.metric(node, name)
        }

        /// Members other than itself that `node`'s gossip knows, in any state (nil: no answer).
        static func othersKnown(by node: DiscodProcess) async -> Int? {
            var total = 0
            for state in ["alive", "suspect", "dead", "left"] {
                guard let count = await metric(node, "disco_members{state=\"\(state)\"}") else { return nil }
                total += count
            }
            return total - 1
        }

        /// Cluster beta starts a node with the ID and ports of a crashed node of cluster alpha
        /// (pods of two namespaces with the same names), no gossip key on either side. Alpha's
        /// nodes keep probing that address while they suspect it, and re-contact it by push-pull
        /// once it is dead (every reconnect interval, 10 s); without the
        /// cluster name on plaintext gossip the two memberships merge. With it, every such
        /// message is refused and counted, and neither side ever learns the other's members.
        @Test func plaintextClustersWithAnotherNameNeverMergeTheirGossip() async throws {
            try await DiscodCluster.with("label-alpha") { alphaCluster in
                try await DiscodCluster.with("label-beta") { betaCluster in
                    let ports = try DiscodCluster.ports(count: 3)
                    let flags = NodeTests.seedFlags(expect: 3, join: ports) + ["-cluster-name", "alpha"]
                    let alpha = try ports.enumerated().map { try alphaCluster.start(id: "\($0 + 1)", ports: $1, flags: flags) }
                    _ = try await DiscodCluster.waitForLeader(alpha)
                    try await NodeTests.eventually("alpha's nodes to see each other alive", alpha) {
                        await NodeProcessTests.GossipEncryption.everyoneAlive(alpha)
                    }
                    await alpha[2].kill()
                    let survivors = Array(alpha.prefix(2))
                    try await NodeTests.eventually("alpha's nodes to notice node 3 is gone", survivors) {
                        for node in survivors where await NodeProcessTests.GossipEncryption.swimState(of: "3", seenBy: node) == "alive" {
                            return false
                        }
                        return true
                    }
                    // Alpha's leader also keeps sending Raft heartbeats to node 3's address. They
                    // name cluster alpha, so beta's node 3 refuses them before it has bootstrapped
                    // itself as well as after (ClusterNameRaftProcessTests): it never follows
                    // alpha's leader, and leads its own cluster of one.
                    let impostor = try betaCluster.start(id: "3", ports: ports[2], flags: ["-cluster-name", "beta"])
                    try await NodeTests.eventually("beta's node 3 to lead itself", survivors + [impostor], timeout: .seconds(120)) {
                        await impostor.leaderID() == "3"
                    }

                    var merged = false
                    try await NodeTests.eventually("beta's node 3 to refuse alpha's datagrams and push-pulls, or the clusters to merge",
                                                   survivors + [impostor], timeout: .seconds(90)) {
                        if let known = await Self.othersKnown(by: impostor), known > 0 { merged = true }
                        for node in survivors where await NodeProcessTests.GossipEncryption.swimState(of: "3", seenBy: node) == "alive" {
                            merged = true
                        }
                        if merged { return true }
                        var pushPullsRefused = 0
                        for node in survivors { pushPullsRefused += await Self.metric(node, "disco_gossip_push_pulls_refused_total") ?? 0 }
                        // Alpha's leader's Raft connections to node 3's address are refused too.
                        let raftRefused = await Self.metric(impostor, "disco_raft_cluster_refused_total") ?? 0
                        return await Self.metric(impostor, "disco_gossip_cluster_refused_total") ?? 0 >= 10 && pushPullsRefused >= 4
                            && raftRefused >= 1
                    }
                    #expect(!merged, "the gossip memberships of clusters alpha and beta merged:\n\(NodeTests.logs(survivors + [impostor]))")
                    #expect(try await firstAnswer("the impostor's gossip metrics") { await Self.othersKnown(by: impostor) } == 0)
                    for node in survivors {
                        #expect(await NodeProcessTests.GossipEncryption.swimState(of: "3", seenBy: node) != "alive")
                    }
                    #expect(impostor.process.output.contains("dropped a datagram from another cluster"))
                    #expect(impostor.process.output.contains("their_cluster=alpha"), "\(impostor.process.output.suffix(3000))")

                    // A node of an older version sends no label: its ping is still answered, unlabelled.
                    let raw = try await UDPSocket.bind()
                    defer { raw.close() }
                    let target = try #require(SocketAddress(numericHost: "127.0.0.1", port: ports[0].raft))
                    let ping: [UInt8] = [1, 1, 77, 3] + Array("old".utf8) + [1] + Array("1".utf8) + [0]
                    try await NodeTests.eventually("node 1 to ack an unlabelled ping", survivors) {
                        try await raw.send(ping, to: target)
                        guard let reply = try await raw.receive(maxBytes: 65_536, timeout: .milliseconds(500)) else { return false }
                        return reply.bytes.starts(with: [1, 2, 77])
                    }
                    #expect(try await firstAnswer("node 1's unlabelled accepted metric") { await Self.metric(alpha[0], "disco_gossip_unlabelled_accepted_total") } >= 1)
                }
            }
        }
    }
}
