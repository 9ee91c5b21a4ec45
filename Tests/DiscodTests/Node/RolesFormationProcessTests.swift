import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Roles at formation, in real processes

extension NodeProcessTests.Roles {
    /// The member-joined events for `dns` on `node`, by member ID.
    static func joinedEventCounts(on node: DiscodProcess) async -> [String: Int]? {
        guard let answer = try? await node.request("GET", "/events?role=dns&since=0&limit=1000"), answer.status == 200,
              let events = answer.json?["events"]?.arrayValue else { return nil }
        var counts: [String: Int] = [:]
        for event in events where event["data"]?["type"]?.stringValue == "member-joined" {
            if let id = event["data"]?["member"]?["id"]?.stringValue { counts[id, default: 0] += 1 }
        }
        return counts
    }

    @Test func theMembersThatFormedTheClusterEachGetOneJoinedEventAlsoAfterALeaderChange() async throws {
        try await DiscodCluster.with("roles-founders") { cluster in
            let ports = try DiscodCluster.ports(count: 3)
            let join = DiscodCluster.joinList(ports)
            var nodes = try (0..<3).map { index in
                try cluster.start(id: "\(index + 1)", ports: ports[index], flags: ["-bootstrap-expect", "3", "-join", join, "-roles", "host"])
            }
            let leader = try await DiscodCluster.waitForLeader(nodes)
            let everyone = ["1": 1, "2": 1, "3": 1]
            try await NodeTests.eventually("one member-joined event for each founder", nodes) {
                await Self.joinedEventCounts(on: nodes[0]) == everyone
            }

            // The leader stops; the others elect a new one, it comes back: every host role looks
            // at the members again, and nothing is reported twice.
            let index = (Int(leader) ?? 1) - 1
            #expect(await nodes[index].terminate() == 0)
            let others = nodes.enumerated().filter { $0.offset != index }.map(\.element)
            let next = try await DiscodCluster.waitForLeader(others)
            #expect(next != leader)
            nodes[index] = try cluster.restart(nodes[index])
            try await DiscodCluster.waitForLeader(nodes)
            try await NodeTests.eventually("the restarted node's host role to have compared the members", nodes) {
                nodes[index].process.output.contains("reported to roles dns; reporting their changes")
            }
            // An event appended after the comparison: once every node has it, any duplicate
            // report made before it would be in their logs too.
            let marker = try await NodeTests.append(#"{"type":"marker","roles":["dns"]}"#, via: nodes[index], others: nodes)
            for node in nodes {
                try await NodeTests.eventually("node \(node.nodeID) to have the marker", nodes) {
                    (try? await node.request("GET", "/events?since=\(marker - 1)&limit=1"))?.json?["events"]?.arrayValue?.count == 1
                }
                #expect(await Self.joinedEventCounts(on: node) == everyone)
            }
        }
    }
}
