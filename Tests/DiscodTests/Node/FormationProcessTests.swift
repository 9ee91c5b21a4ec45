import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Formation with the seed's command lines

extension NodeProcessTests {
    @Suite struct Formation {
        /// The seed's three commands: one leader, three voters everywhere, an event posted to a
        /// follower readable everywhere, the same /leader, ready, SWIM alive.
        @Test(arguments: DiscodEngine.allCases) func seedThreeCommandsFormOneCluster(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("seed3", engine: engine) { cluster in
                let (nodes, _, leader) = try await NodeTests.formedSeedCluster(cluster)
                try await NodeTests.eventually("every node to list voters 1, 2, 3 in /nodes", nodes) {
                    for node in nodes where await NodeTests.voterIDs(node) != ["1", "2", "3"] { return false }
                    return true
                }
                let (leaderNode, followers) = try NodeTests.split(nodes, leader: leader)
                let follower = followers[0]
                let event = #"{"test":"seed","from":"follower"}"#
                let seq = try await NodeTests.append(event, via: follower)
                #expect(seq == 1)
                try await NodeTests.waitForEvents([event], on: nodes)
                try await NodeTests.expectStateInEtcd(cluster, events: 1)

                var leaderBodies: [String] = []
                try await NodeTests.eventually("/leader to answer the same body on every node", nodes) {
                    leaderBodies = []
                    for node in nodes {
                        guard let answer = try? await node.request("GET", "/leader"), answer.status == 200 else { return false }
                        leaderBodies.append(answer.text)
                    }
                    return Set(leaderBodies).count == 1
                }
                let leaderJSON = try #require(try? JSONValue.parse(Array(leaderBodies[0].utf8)))
                #expect(leaderJSON["id"]?.stringValue == leader)
                #expect(leaderJSON["api_addr"]?.stringValue == leaderNode.apiURL)
                #expect(leaderJSON["addr"]?.stringValue == leaderNode.raftAddress)

                try await NodeTests.eventually("/readyz 200 on every node", nodes) {
                    for node in nodes {
                        guard let answer = try? await node.request("GET", "/readyz"), answer.status == 200 else { return false }
                    }
                    return true
                }
                try await NodeTests.eventually("/status to show all three members alive in SWIM on every node", nodes) {
                    for node in nodes {
                        guard let members = try? await node.status()["members"]?.arrayValue else { return false }
                        let alive = members.filter { $0["swim"]?.stringValue == "alive" }.compactMap { $0["id"]?.stringValue }
                        guard alive.sorted() == ["1", "2", "3"] else { return false }
                    }
                    return true
                }
            }
        }

        /// A fourth node started later with plain `-join <the three>` becomes a member.
        @Test func fourthNodeJoinsWithPlainJoin() async throws {
            try await fourthNodeJoins(name: "join4-plain") { seedPorts, _ in ["-join", DiscodCluster.joinList(seedPorts)] }
        }

        /// A fourth node started later with `-bootstrap-expect 3 -join <all four>` joins too.
        @Test func fourthNodeJoinsWithBootstrapExpect() async throws {
            try await fourthNodeJoins(name: "join4-expect") { seedPorts, own in
                NodeTests.seedFlags(expect: 3, join: seedPorts + [own])
            }
        }

        private func fourthNodeJoins(name: String, flags: ([NodePorts], NodePorts) -> [String]) async throws {
            try await DiscodCluster.with(name) { cluster in
                let (nodes, ports, leader) = try await NodeTests.formedSeedCluster(cluster)
                let before = NodeTests.events(name, 1...3)
                for event in before { try await NodeTests.append(event, via: nodes[0], others: nodes) }
                let ownPorts = try DiscodCluster.ports()
                let fourth = try cluster.start(id: "4", ports: ownPorts, flags: flags(ports, ownPorts))
                let all = nodes + [fourth]
                try await NodeTests.eventually("node 4 in /nodes on all four nodes", all) {
                    for node in all where await node.memberIDs() != ["1", "2", "3", "4"] { return false }
                    return true
                }
                try await NodeTests.eventually("node 4 to name node \(leader) as leader", all) { await fourth.leaderID() == leader }
                let after = #"{"test":"\#(name)","n":"after"}"#
                try await NodeTests.append(after, via: fourth, others: nodes)
                try await NodeTests.waitForEvents(before + [after], on: all)
                #expect(fourth.process.output.contains("formation:"))
            }
        }

        /// Five nodes with `-bootstrap-expect 3` started at once form exactly one cluster.
        @Test(arguments: DiscodEngine.allCases) func fiveNodesWithExpectThreeFormOneCluster(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("five", engine: engine) { cluster in
                let (nodes, _) = try NodeTests.startSeedCluster(cluster, count: 5, expect: 3)
                try await DiscodCluster.waitForLeader(nodes)
                var epochs: [String?] = []
                try await NodeTests.eventually("one epoch on all five nodes and all five in every /nodes", nodes) {
                    epochs = []
                    for node in nodes { epochs.append(await NodeTests.epoch(of: node)) }
                    guard Set(epochs).count == 1, epochs[0] != nil else { return false }
                    for node in nodes where await node.memberIDs() != ["1", "2", "3", "4", "5"] { return false }
                    return true
                }
                let leaders = await nodes.asyncMap { await $0.leaderID() }
                #expect(Set(leaders).count == 1, "leaders reported: \(leaders)")
            }
        }

        /// One node with `-bootstrap-expect 2` among two with 3: the refusal names both values and
        /// no cluster forms around the odd node.
        @Test func mismatchedExpectIsRefusedNamingBothValues() async throws {
            try await DiscodCluster.with("mismatch") { cluster in
                let ports = try DiscodCluster.ports(count: 3)
                let nodes = [
                    try cluster.start(id: "1", ports: ports[0], flags: NodeTests.seedFlags(expect: 3, join: ports)),
                    try cluster.start(id: "2", ports: ports[1], flags: NodeTests.seedFlags(expect: 3, join: ports)),
                    try cluster.start(id: "3", ports: ports[2], flags: NodeTests.seedFlags(expect: 2, join: ports)),
                ]
                var refusal = ""
                try await NodeTests.eventually("a refusal naming -bootstrap-expect 2 and 3 in a node's log", nodes) {
                    for node in nodes {
                        let lines = node.process.output.split(separator: "\n")
                        if let line = lines.first(where: { $0.contains("-bootstrap-expect 2") && $0.contains("-bootstrap-expect 3") }) {
                            refusal = String(line)
                            return true
                        }
                    }
                    return false
                }
                #expect(refusal.contains("same"), "the refusal should say every node needs the same value: \(refusal)")
                try await NodeTests.eventually("node 3's /status bootstrap.last_error to name the refusal", nodes) {
                    let error = (try? await nodes[2].status())?["bootstrap"]?["last_error"]?.stringValue ?? ""
                    return error.contains("-bootstrap-expect 2") && error.contains("-bootstrap-expect 3")
                }
                // Let formation run several more rounds on every node, then check no split brain:
                // whoever reports a leader reports the same one, in one epoch.
                var baseline: [Int] = []
                for node in nodes { baseline.append(try await node.status()["bootstrap"]?["rounds"]?.numberValue?.intValue ?? 0) }
                try await NodeTests.eventually("five more bootstrap rounds on every node", nodes) {
                    for (node, start) in zip(nodes, baseline) {
                        let rounds = (try? await node.status())?["bootstrap"]?["rounds"]?.numberValue?.intValue ?? 0
                        if rounds < start + 5 { return false }
                    }
                    return true
                }
                var leaders = Set<String>()
                var epochs = Set<String>()
                for node in nodes {
                    if let leader = await node.leaderID() { leaders.insert(leader) }
                    if let epoch = await NodeTests.epoch(of: node) { epochs.insert(epoch) }
                }
                #expect(leaders.count <= 1, "more than one leader: \(leaders)\n\(NodeTests.logs(nodes))")
                #expect(epochs.count <= 1, "more than one cluster epoch: \(epochs)")
                #expect(!leaders.contains("3"), "the odd node formed a cluster of its own")
            }
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
