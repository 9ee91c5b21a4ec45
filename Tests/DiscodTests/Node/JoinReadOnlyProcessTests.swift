import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - join-read-only cannot rewrite another member

extension NodeProcessTests.AccessControl {
    /// A `join-read-only` user may join a node as a non-voter, but a "join" naming an existing
    /// member at its own addresses must not rewrite that member's record (its roles or its
    /// generation: a forged high generation would make every later join of the real node stale).
    @Test func joinReadOnlyCannotRewriteAnExistingMember() async throws {
        try await DiscodCluster.with("auth-ro") { cluster in
            let authFile = try await Self.writeAuthFile(in: cluster)
            let ports = try DiscodCluster.ports(count: 3)
            let flags = NodeTests.seedFlags(expect: 3, join: ports) + ["-auth", authFile, "-join-as", "node"]
            let admin = Self.basic("admin", "admin-pass")
            let nodes = try ports.enumerated().map { index, pair in
                try cluster.start(id: "\(index + 1)", ports: pair, flags: flags, authorization: admin)
            }
            let leaderID = try await DiscodCluster.waitForLeader(nodes)
            let (leader, followers) = try NodeTests.split(nodes, leader: leaderID)
            let victim = followers[0]
            func victimRow() async -> JSONValue? {
                await NodeTests.nodeRows(leader)?.first { $0["id"]?.stringValue == victim.nodeID }
            }
            try await NodeTests.eventually("node \(victim.nodeID)'s record", nodes) {
                await victimRow()?["generation"]?.numberValue?.uint64Value != nil
            }
            let before = await victimRow()

            let forged = #"{"id":"\#(victim.nodeID)","addr":"\#(victim.raftAddress)","api_addr":"\#(victim.host):\#(victim.httpPort)","#
                + #""voter":false,"roles":["forged"],"generation":9000000000000,"cluster":"disco"}"#
            let replica = [("Authorization", Self.basic("replica", "replica-pass"))]
            let answer = try await leader.request("POST", "/join", body: forged, headers: replica)
            #expect(answer.status == 403, "\(answer.status) \(answer.text)")

            let after = await victimRow()
            #expect(after?["roles"] == before?["roles"], "roles: \(String(describing: after?["roles"]))")
            #expect(after?["generation"] == before?["generation"], "generation: \(String(describing: after?["generation"]))")
            #expect(after?["voter"]?.boolValue == true)
        }
    }
}
