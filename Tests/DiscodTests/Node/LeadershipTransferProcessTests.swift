import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Moving leadership to a chosen voter

extension NodeProcessTests {
    @Suite struct LeadershipTransfer {
        /// Leadership moves to the voter named, with either engine: first to a follower (through
        /// `discoctl transfer-leadership` sent to the other follower, which redirects), then back to
        /// the old leader, which with etcd now stands last in the election line (it re-entered
        /// behind the others when it resigned), then to the last one. Every node agrees each time,
        /// and writes go through the new leader.
        @Test(arguments: DiscodEngine.allCases) func leadershipMovesToTheNamedVoter(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("transfer", engine: engine) { cluster in
                let (nodes, _, first) = try await NodeTests.formedSeedCluster(cluster)
                let (old, followers) = try NodeTests.split(nodes, leader: first)

                let moved = try await Discoctl.run(followers[1], ["transfer-leadership", followers[0].nodeID])
                #expect(moved.status == 0, "\(moved)")
                #expect(moved.standardOutput.hasPrefix("leader is now \(followers[0].nodeID) at "), "\(moved)")
                #expect(moved.standardOutput.hasSuffix(":\(followers[0].httpPort) (was \(first))\n"), "\(moved)")
                try await agree(nodes, on: followers[0].nodeID)

                var leader = followers[0]
                for target in [old, followers[1]] {
                    let answer = try await leader.request("POST", "/leader/transfer", body: #"{"id":"\#(target.nodeID)"}"#, timeout: .seconds(30))
                    #expect(answer.status == 200, "\(answer.status) \(answer.text)")
                    #expect(answer.json?["leader"]?["id"]?.stringValue == target.nodeID, "\(answer.text)")
                    #expect(answer.json?["previous"]?.stringValue == leader.nodeID, "\(answer.text)")
                    try await agree(nodes, on: target.nodeID)
                    leader = target
                }
                _ = try await NodeTests.append(#"{"test":"transfer"}"#, via: old, others: nodes)
            }
        }

        /// What cannot lead is refused with the reason, and leadership stays: a node that is not a
        /// member (404), a body that names no node (400), a stopped voter (409, not live).
        @Test(arguments: DiscodEngine.allCases) func transferToWhatCannotLeadIsRefused(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("notransfer", engine: engine) { cluster in
                let (nodes, _, first) = try await NodeTests.formedSeedCluster(cluster)
                let (leader, followers) = try NodeTests.split(nodes, leader: first)

                let stranger = try await leader.request("POST", "/leader/transfer", body: #"{"id":"nobody"}"#)
                #expect(stranger.status == 404 && stranger.text.contains("nobody is not a member"), "\(stranger.status) \(stranger.text)")
                let nonsense = try await leader.request("POST", "/leader/transfer", body: #"{"id":7}"#)
                #expect(nonsense.status == 400 && nonsense.text.contains("must be a node ID string"), "\(nonsense.status) \(nonsense.text)")

                await followers[0].kill()
                try await NodeTests.eventually("the leader to see \(followers[0].nodeID) unreachable", [leader, followers[1]]) {
                    let rows = await NodeTests.nodeRows(leader) ?? []
                    return rows.contains { $0["id"]?.stringValue == followers[0].nodeID && $0["reachable"]?.boolValue == false }
                }
                var refusal = ""
                try await NodeTests.eventually("a transfer to the killed voter to be refused as not live", [leader, followers[1]]) {
                    guard let answer = try? await leader.request("POST", "/leader/transfer", body: #"{"id":"\#(followers[0].nodeID)"}"#,
                                                                 timeout: .seconds(30)) else { return false }
                    refusal = "\(answer.status) \(answer.text)"
                    #expect(answer.status != 200, "leadership moved to a killed node: \(refusal)")
                    return answer.status == 409 && answer.text.contains("not live")
                }
                #expect(try await firstAnswer("GET /leader on the leader") { await leader.leaderID() } == first, "leadership stayed: \(refusal)")
                #expect(try await firstAnswer("GET /leader on a follower") { await followers[1].leaderID() } == first, "leadership stayed: \(refusal)")
            }
        }

        /// Every node names `leader`, and `leader` itself acts as leader (with etcd the others
        /// see its election key lead a moment before it has read what it needs to act).
        private func agree(_ nodes: [DiscodProcess], on leader: String) async throws {
            try await NodeTests.eventually("every node to name \(leader) as leader, and \(leader) to act as leader", nodes) {
                guard await nodes.asyncMap({ await $0.leaderID() }).allSatisfy({ $0 == leader }) else { return false }
                let own = try? await nodes.first { $0.nodeID == leader }?.status()
                return own?["node"]?["state"]?.stringValue == "leader"
            }
        }
    }
}
