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
            let (nodes, leader, followers, _, _) = try await Self.startAuthCluster(cluster)
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
