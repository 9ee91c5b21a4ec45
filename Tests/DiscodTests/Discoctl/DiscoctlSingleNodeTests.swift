import DiscoCore
import DiscoTestKit
import Foundation
import Testing

/// `discoctl` against one real `discod -node-id 1 …`, which forms a single-node cluster by itself.
@Suite struct DiscoctlSingleNodeTests {
    @Test func statusNodesAndLeader() async throws {
        let cluster = try DiscodCluster(name: "ctl-single")
        defer { Task { await cluster.shutdown() } }
        let node = try await Discoctl.startSingleNode(cluster)

        let status = try await Discoctl.run(node, ["status"])
        #expect(status.status == 0, "\(status)")
        #expect(status.standardOutput.contains("node:      1 (leader, voter) api \(node.apiURL) raft \(node.raftAddress)"), "\(status)")
        #expect(status.standardOutput.contains("leader:    1 api \(node.apiURL)"), "\(status)")
        #expect(status.standardOutput.contains("cluster:   disco, epoch "), "\(status)")
        #expect(status.standardOutput.contains("bootstrap: clustered"), "\(status)")
        #expect(status.standardOutput.contains("events:    none yet (0 retained, 0 bytes)\n"), "\(status)")
        #expect(status.standardOutput.contains("members:   1\n"), "\(status)")

        let statusJSON = try await Discoctl.run(node, ["status", "-format", "json"])
        #expect(statusJSON.status == 0, "\(statusJSON)")
        let json = Discoctl.json(statusJSON)
        #expect(json?["node"]?["id"]?.stringValue == "1")
        #expect(json?["leader"]?["api_addr"]?.stringValue == node.apiURL)
        #expect(json?["members"]?.arrayValue?.count == 1)

        let nodes = try await Discoctl.run(node, ["nodes"])
        #expect(nodes.status == 0, "\(nodes)")
        let rows = Discoctl.lines(nodes).map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.first == ["ID", "API", "RAFT", "VOTER", "LEADER", "REACHABLE", "SWIM", "ROLES"])
        #expect(rows.dropFirst().first == ["1", node.apiURL, node.raftAddress, "yes", "yes", "yes", "alive", "-"], "\(nodes)")

        let nodesJSON = try await Discoctl.run(node, ["nodes", "-nonvoters", "-format", "json"])
        #expect(Discoctl.json(nodesJSON)?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["1"], "\(nodesJSON)")

        let leader = try await Discoctl.run(node, ["leader"])
        #expect(leader.status == 0, "\(leader)")
        #expect(leader.standardOutput == "id: 1\napi_addr: \(node.apiURL)\naddr: \(node.raftAddress)\n", "\(leader)")
        // The node elected itself once: one change of the known leader (none -> 1).
        let metrics = try await firstAnswer("GET /metrics on node \(node.nodeID)") { try await node.request("GET", "/metrics") }
        #expect(metrics.text.contains("\ndisco_raft_leader_changes_total 1\n"), "\(metrics.text)")

        let leaderJSON = try await Discoctl.run(node, ["leader", "-format", "json"])
        let direct = try await firstAnswer("GET /leader on node \(node.nodeID)") { try await node.request("GET", "/leader") }
        #expect(Discoctl.json(leaderJSON) == direct.json, "\(leaderJSON)")
    }

    @Test func eventsAppendListAndFollow() async throws {
        let cluster = try DiscodCluster(name: "ctl-events")
        defer { Task { await cluster.shutdown() } }
        let node = try await Discoctl.startSingleNode(cluster)

        let first = try await Discoctl.run(node, ["events", "append", #"{"type":"deploy","n":1}"#])
        #expect(first.status == 0, "\(first)")
        // The index as `discoctl events` shows it (index=N): the log's, with either engine (etcd runs no Raft).
        #expect(first.standardOutput.hasPrefix("appended event #1 at log index "), "\(first)")
        let second = try await Discoctl.run(node, ["append", "-format", "json", "[2]"])
        #expect(Discoctl.json(second)?["seq"]?.numberValue?.uint64Value == 2, "\(second)")

        let text = try await Discoctl.run(node, ["events"])
        #expect(text.status == 0, "\(text)")
        let lines = Discoctl.lines(text)
        #expect(lines.count == 2, "\(text)")
        #expect(lines.first?.hasPrefix("#1 ") == true && lines.first?.hasSuffix(#" {"type":"deploy","n":1}"#) == true, "\(text)")
        #expect(lines.last?.hasPrefix("#2 ") == true && lines.last?.hasSuffix(" [2]") == true, "\(text)")

        let json = try await Discoctl.run(node, ["events", "-since", "1", "-format", "json"])
        let events = Discoctl.json(json)?.arrayValue ?? []
        #expect(events.map { $0["seq"]?.numberValue?.uint64Value } == [2], "\(json)")
        #expect(events.first?["data"] == .array([.number(JSONNumber(2))]))
        let jsonLines = try await Discoctl.run(node, ["events", "-format", "jsonl"])
        #expect(Discoctl.lines(jsonLines).compactMap { try? JSONValue.parse($0)["seq"]?.numberValue?.uint64Value } == [1, 2], "\(jsonLines)")

        let status = try await Discoctl.run(node, ["status"])
        #expect(status.standardOutput.contains("events:    #1...#2 (2 retained, 26 bytes)\n"), "\(status)")

        let limited = try await Discoctl.run(node, ["events", "-limit", "1"])
        #expect(Discoctl.lines(limited).count == 1 && limited.standardOutput.hasPrefix("#1 "), "\(limited)")

        // -follow long-polls until an event after -since arrives; -limit 1 ends it after that one.
        async let followed = Discoctl.run(node, ["events", "-follow", "-since", "2", "-limit", "1", "-format", "jsonl"])
        #expect(try await node.appendEvent(#"{"type":"later"}"#) == 3)
        let outcome = try await followed
        #expect(outcome.status == 0, "\(outcome)")
        #expect(Discoctl.json(outcome)?["data"]?["type"]?.stringValue == "later", "\(outcome)")

        let unknown = try await Discoctl.run(node, ["remove", "9"])
        #expect(unknown.status == 1, "\(unknown)")
        #expect(unknown.standardError.contains("discoctl remove: node 9 is not a member"), "\(unknown)")
    }

    /// A consumer name may hold `+`, `&`, `=` and `%` (the node refuses only whitespace, control
    /// characters and `/`), but discoctl put it into the cursor's query string as written: the
    /// node read `+` as a space (400) and `&` as the end of the name, so `-consumer 'x&y=1'`
    /// read the cursor of `x` while it stored its own, and printed the same events on every run.
    @Test func eventsConsumerNamesAreSentEscaped() async throws {
        let cluster = try DiscodCluster(name: "ctl-consumer-names")
        defer { Task { await cluster.shutdown() } }
        let node = try await Discoctl.startSingleNode(cluster)
        #expect(try await node.appendEvent(#"{"type":"a","roles":["dns"]}"#) == 1)

        for consumer in ["team+a", "x&role=host", "fifty%41"] {
            let arguments = ["events", "-role", "dns", "-consumer", consumer, "-format", "jsonl"]
            let first = try await Discoctl.run(node, arguments)
            #expect(first.status == 0 && Discoctl.lines(first).count == 1, "\(consumer): \(first)")
            let again = try await Discoctl.run(node, arguments)
            #expect(again.status == 0 && Discoctl.lines(again).isEmpty, "\(consumer) resumes after its cursor: \(again)")
        }
    }
}
