import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Non-voters and removal

extension NodeProcessTests {
    @Suite struct Membership {
        /// `-raft-non-voter -join <the three>`: listed with voter false everywhere, receives
        /// events, and the cluster keeps three voters.
        @Test(arguments: DiscodEngine.allCases) func nonVoterJoinsWithoutChangingTheVoters(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("nonvoter", engine: engine) { cluster in
                let (nodes, ports, _) = try await NodeTests.formedSeedCluster(cluster)
                let before = #"{"test":"nonvoter","n":"before"}"#
                try await NodeTests.append(before, via: nodes[0], others: nodes)
                let learner = try cluster.start(id: "4", ports: try DiscodCluster.ports(),
                                                flags: ["-raft-non-voter", "-join", DiscodCluster.joinList(ports)])
                let all = nodes + [learner]
                try await NodeTests.eventually("node 4 listed as a non-voter and three voters on every node", all) {
                    for node in all {
                        guard let rows = await NodeTests.nodeRows(node),
                              let row = rows.first(where: { $0["id"]?.stringValue == "4" }),
                              row["voter"]?.boolValue == false,
                              await NodeTests.voterIDs(node) == ["1", "2", "3"]
                        else { return false }
                    }
                    return true
                }
                let status = try await firstAnswer("GET /status on node 4") { try await learner.status() }
                #expect(status["node"]?["voter"]?.boolValue == false)
                let after = #"{"test":"nonvoter","n":"after"}"#
                try await NodeTests.append(after, via: learner, others: nodes)
                try await NodeTests.waitForEvents([before, after], on: all)
                for node in all {
                    #expect(try await firstAnswer("GET /nodes on node \(node.nodeID)") { await NodeTests.voterIDs(node) } == ["1", "2", "3"], "voters on node \(node.nodeID)")
                }
            }
        }

        /// `DELETE /remove` on a follower answers 307 to the leader; on the leader it removes
        /// the member, which then disappears from /nodes on the others.
        @Test(arguments: DiscodEngine.allCases) func removeFollowerRedirectsThenRemoves(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("remove", engine: engine) { cluster in
                let (nodes, _, leader) = try await NodeTests.formedSeedCluster(cluster)
                let (leaderNode, followers) = try NodeTests.split(nodes, leader: leader)
                let (target, other) = (followers[0], followers[1])
                try await NodeTests.eventually("the follower to know the leader's address", nodes) {
                    guard let answer = try? await other.request("GET", "/leader"), answer.status == 200 else { return false }
                    return answer.json?["api_addr"]?.stringValue == leaderNode.apiURL
                }
                // A follower lists the members once the configuration reached it, which may be
                // after the election the cluster was waited for by.
                try await NodeTests.eventually("the other follower to list the three members", nodes) {
                    await other.memberIDs() == ["1", "2", "3"]
                }
                let body = #"{"id":"\#(target.nodeID)"}"#
                let redirect = try await other.request("DELETE", "/remove", body: body)
                #expect(redirect.status == 307, "\(redirect.status) \(redirect.text)")
                #expect(redirect.location == leaderNode.apiURL + "/remove")
                #expect(redirect.json?["leader"]?["id"]?.stringValue == leader)
                #expect(try await firstAnswer("GET /nodes on the other follower") { await other.memberIDs() } == ["1", "2", "3"], "a redirect must not remove anything")

                let removed = try await leaderNode.request("DELETE", "/remove", body: body, timeout: .seconds(20))
                #expect(removed.status == 200, "\(removed.status) \(removed.text)")
                #expect(removed.json?["removed"]?.stringValue == target.nodeID)
                let remaining = [leaderNode, other]
                let expected = remaining.map(\.nodeID).sorted()
                try await NodeTests.eventually("node \(target.nodeID) gone from /nodes on the others", remaining) {
                    for node in remaining where await node.memberIDs() != expected { return false }
                    return true
                }
                let unknown = try await leaderNode.request("DELETE", "/remove", body: #"{"id":"no-such-node"}"#)
                #expect(unknown.status == 404, "\(unknown.status) \(unknown.text)")
                // The two remaining voters still commit.
                try await NodeTests.append(#"{"test":"remove","n":"after"}"#, via: other, others: remaining)
            }
        }
    }
}
