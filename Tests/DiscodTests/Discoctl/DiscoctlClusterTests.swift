import DiscoCore
import DiscoTestKit
import Foundation
import Testing

/// `discoctl` against three real nodes started with the seed's command shape, plus a non-voter.
@Suite struct DiscoctlClusterTests {
    @Test func threeNodesStatusNodesLeaderEventsAndRemove() async throws {
        let cluster = try DiscodCluster(name: "ctl-three")
        defer { Task { await cluster.shutdown() } }
        let ports = try DiscodCluster.ports(count: 4)
        let join = DiscodCluster.joinList(Array(ports.prefix(3)))
        let voters = try (1...3).map { index in
            try cluster.start(id: "\(index)", ports: ports[index - 1], flags: ["-bootstrap-expect", "3", "-join", join])
        }
        let leaderID = try await DiscodCluster.waitForLeader(voters)
        let nonVoter = try cluster.start(id: "4", ports: ports[3], flags: ["-raft-non-voter", "-join", join])
        try await DiscodCluster.waitUntil("the non-voter to be a member", watching: voters + [nonVoter], pollEvery: .milliseconds(200)) {
            await voters[0].memberIDs() == ["1", "2", "3", "4"]
        }
        let followers = voters.filter { $0.nodeID != leaderID }
        let follower = try #require(followers.first)

        // Every node names the same leader.
        for node in voters + [nonVoter] {
            let leader = try await Discoctl.run(node, ["leader", "-format", "json"])
            #expect(Discoctl.json(leader)?["id"]?.stringValue == leaderID, "node \(node.nodeID): \(leader)")
        }

        let status = try await Discoctl.run(follower, ["status"])
        #expect(status.status == 0, "\(status)")
        #expect(status.standardOutput.contains("node:      \(follower.nodeID) (follower, voter)"), "\(status)")
        #expect(status.standardOutput.contains("leader:    \(leaderID) api "), "\(status)")
        #expect(status.standardOutput.contains("bootstrap: clustered (expect 3"), "\(status)")
        #expect(status.standardOutput.contains("discovery: static \(join.replacingOccurrences(of: ",", with: ", "))"), "\(status)")
        #expect(status.standardOutput.contains("members:   4\n"), "\(status)")

        // `nodes` lists voters; -nonvoters adds the non-voting node.
        let nodes = try await Discoctl.run(follower, ["nodes"])
        #expect(nodes.status == 0, "\(nodes)")
        let rows = Discoctl.lines(nodes).dropFirst().map { $0.split(separator: " ").map(String.init) }
        #expect(rows.map { $0.first } == ["1", "2", "3"], "\(nodes)")
        #expect(rows.filter { $0.count == 8 && $0[4] == "yes" }.map { $0[0] } == [leaderID], "\(nodes)")
        #expect(nodes.standardError.contains("1 non-voting node not shown"), "\(nodes)")
        let all = try await Discoctl.run(follower, ["nodes", "-nonvoters", "-format", "json"])
        let allRows = Discoctl.json(all)?.arrayValue ?? []
        #expect(allRows.compactMap { $0["id"]?.stringValue } == ["1", "2", "3", "4"], "\(all)")
        #expect(allRows.last?["voter"] == .bool(false))

        // An event appended through a follower is listed by the others.
        let appended = try await Discoctl.run(follower, ["events", "append", #"{"via":"follower"}"#])
        #expect(appended.status == 0, "\(appended)")
        for node in voters {
            try await DiscodCluster.waitUntil("node \(node.nodeID) to list the event", watching: voters) {
                let events = try await Discoctl.run(node, ["events", "-format", "json"])
                return events.standardOutput.contains(#""data":{"via":"follower"}"#)
            }
        }

        // remove, sent to a follower, is redirected to the leader.
        let target = try #require(followers.last)
        let removed = try await Discoctl.run(follower, ["remove", target.nodeID])
        #expect(removed.status == 0, "\(removed)")
        #expect(removed.standardOutput == "removed node \(target.nodeID)\n", "\(removed)")
        let remaining = ["1", "2", "3", "4"].filter { $0 != target.nodeID }
        let leader = try #require(voters.first { $0.nodeID == leaderID })
        try await DiscodCluster.waitUntil("the leader to drop node \(target.nodeID)", watching: [leader]) {
            await leader.memberIDs() == remaining
        }
        let after = try await Discoctl.run(leader, ["nodes", "-nonvoters", "-format", "json"])
        #expect(Discoctl.json(after)?.arrayValue?.compactMap { $0["id"]?.stringValue } == remaining, "\(after)")
    }
}
