import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Sealed gossip between discod processes

extension NodeProcessTests {
    @Suite struct GossipEncryption {
        static let keyA = "oaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaE="
        static let keyB = "srKysrKysrKysrKysrKysrKysrKysrKysrKysrKysrI="

        /// A sample's value in `GET /metrics` (nil when the node does not answer).
        static func metric(_ node: DiscodProcess, _ name: String) async -> Int? {
            guard let answer = try? await node.request("GET", "/metrics", timeout: .seconds(3)), answer.status == 200 else { return nil }
            for line in answer.text.split(separator: "\n") where line.hasPrefix(name + " ") {
                return Int(line.dropFirst(name.count + 1))
            }
            return nil
        }

        /// `/nodes` SWIM state of `member` as `observer` sees it.
        static func swimState(of member: String, seenBy observer: DiscodProcess) async -> String? {
            await NodeTests.nodeRows(observer)?.first { $0["id"]?.stringValue == member }?["swim"]?.stringValue
        }

        static func everyoneAlive(_ nodes: [DiscodProcess]) async -> Bool {
            for observer in nodes {
                for member in nodes where await swimState(of: member.nodeID, seenBy: observer) != "alive" { return false }
            }
            return true
        }

        /// Three nodes formed with `-gossip-key`: SWIM sees everyone alive, nothing fails to open.
        @Test func nodesWithTheKeyFormAndGossip() async throws {
            try await DiscodCluster.with("gossip-key") { cluster in
                let ports = try DiscodCluster.ports(count: 3)
                let flags = NodeTests.seedFlags(expect: 3, join: ports) + ["-gossip-key", Self.keyA]
                let nodes = try ports.enumerated().map { try cluster.start(id: "\($0 + 1)", ports: $1, flags: flags) }
                _ = try await DiscodCluster.waitForLeader(nodes)
                try await NodeTests.eventually("every node to see every node alive over sealed gossip", nodes) {
                    await Self.everyoneAlive(nodes)
                }
                try await NodeTests.eventually("SWIM datagrams received on every node", nodes) {
                    for node in nodes where await Self.metric(node, "disco_swim_datagrams_received_total") ?? 0 < 10 { return false }
                    return true
                }
                for node in nodes {
                    for (name, expected) in [("disco_gossip_encrypted", 1), ("disco_gossip_keys", 1), ("disco_gossip_decrypt_failures_total", 0),
                                             ("disco_gossip_plaintext_dropped_total", 0)] {
                        #expect(try await firstAnswer("\(name) on node \(node.nodeID)") { await Self.metric(node, name) } == expected, "\(name)")
                    }
                    #expect(!node.process.output.contains(Self.keyA), "the key appears in node \(node.nodeID)'s log")
                }
            }
        }

        /// A node with another key joins Raft over HTTP but never gossips: no member sees it
        /// alive, and its own log and metrics say why.
        @Test func aNodeWithAnotherKeyIsNeverSeenAlive() async throws {
            try await DiscodCluster.with("gossip-wrong-key") { cluster in
                let ports = try DiscodCluster.ports(count: 3)
                let flags = NodeTests.seedFlags(expect: 3, join: ports) + ["-gossip-key", Self.keyA]
                let nodes = try ports.enumerated().map { try cluster.start(id: "\($0 + 1)", ports: $1, flags: flags) }
                _ = try await DiscodCluster.waitForLeader(nodes)
                try await NodeTests.eventually("the three to see each other alive", nodes) { await Self.everyoneAlive(nodes) }

                let outsider = try cluster.start(id: "4", ports: try DiscodCluster.ports(),
                                                 flags: ["-raft-non-voter", "-join", DiscodCluster.joinList(ports), "-gossip-key", Self.keyB])
                var seenAlive = false
                try await NodeTests.eventually("failures to open on both sides and in node 4's log", nodes + [outsider]) {
                    for node in nodes where await Self.swimState(of: "4", seenBy: node) == "alive" { seenAlive = true }
                    let own = await Self.metric(outsider, "disco_gossip_decrypt_failures_total") ?? 0
                    var theirs = 0
                    for node in nodes { theirs += await Self.metric(node, "disco_gossip_decrypt_failures_total") ?? 0 }
                    return own > 0 && theirs > 0
                        && outsider.process.output.contains("does not open with this member's gossip keyring")
                }
                #expect(!seenAlive)
                // It is in the Raft configuration all the same (it joined over HTTP), though its Raft frames,
                // sealed with another key, are refused like its gossip.
                let rows = try await firstAnswer("GET /nodes on node 1") { await NodeTests.nodeRows(nodes[0]) }
                #expect(rows.contains { $0["id"]?.stringValue == "4" })
                try await NodeTests.eventually("node 4 to refuse the leader's Raft frames", nodes + [outsider]) {
                    outsider.process.output.contains("a sealed Raft frame that does not open with this node's gossip keyring")
                }
                #expect((try? await outsider.eventData())?.isEmpty ?? true, "node 4 received the log without the key")
                for node in nodes {
                    #expect(await Self.swimState(of: "4", seenBy: node) != "alive")
                }
                #expect(try await firstAnswer("node 4's refused push-pulls metric") { await Self.metric(outsider, "disco_gossip_push_pulls_refused_total") } > 0)
            }
        }

        /// Three nodes with keyring files move from key A to key B in three steps, each written
        /// to every file and loaded with SIGHUP: nobody is ever seen dead, nothing fails to open. A broken file afterwards is refused and the keys in use stay.
        @Test func keyRotationWithSIGHUPKeepsEveryNodeAlive() async throws {
            try await DiscodCluster.with("gossip-rotation") { cluster in
                func write(_ id: String, _ json: String) throws {
                    try Data(json.utf8).write(to: URL(fileURLWithPath: "\(cluster.root)/keyring-\(id).json"), options: .atomic)
                }
                let ids = ["1", "2", "3"]
                for id in ids { try write(id, #"{"primary": "\#(Self.keyA)"}"#) }
                let ports = try DiscodCluster.ports(count: 3)
                let nodes = try ports.enumerated().map { index, pair in
                    try cluster.start(id: ids[index], ports: pair, flags: NodeTests.seedFlags(expect: 3, join: ports)
                                      + ["-gossip-keyring", "\(cluster.root)/keyring-\(ids[index]).json"])
                }
                _ = try await DiscodCluster.waitForLeader(nodes)
                try await NodeTests.eventually("the three to see each other alive", nodes) { await Self.everyoneAlive(nodes) }

                // Suspicion may come from a busy machine (and is refuted); dead or gone may not.
                var lost: [String] = []
                func watchAlive() async {
                    for observer in nodes {
                        for member in ids {
                            let state = await Self.swimState(of: member, seenBy: observer)
                            if let state, state != "alive", state != "suspect" { lost.append("\(observer.nodeID) saw \(member) \(state)") }
                        }
                    }
                }
                let steps = [
                    (#"{"primary": "\#(Self.keyA)", "accepted": ["\#(Self.keyB)"]}"#, 2),
                    (#"{"primary": "\#(Self.keyB)", "accepted": ["\#(Self.keyA)"]}"#, 2),
                    (#"{"primary": "\#(Self.keyB)"}"#, 1),
                ]
                for (number, (json, keys)) in steps.enumerated() {
                    var received: [Int] = []
                    for (id, node) in zip(ids, nodes) {
                        received.append(await Self.metric(node, "disco_swim_datagrams_received_total") ?? 0)
                        try write(id, json)
                        node.process.send(SIGHUP)
                    }
                    try await NodeTests.eventually("step \(number + 1) loaded on every node, and 20 more datagrams heard", nodes) {
                        await watchAlive()
                        for (node, before) in zip(nodes, received) {
                            guard await Self.metric(node, "disco_gossip_keyring_reloads_total") == number + 1,
                                  await Self.metric(node, "disco_gossip_keys") == keys,
                                  await Self.metric(node, "disco_swim_datagrams_received_total") ?? 0 >= before + 20
                            else { return false }
                        }
                        return true
                    }
                }
                #expect(lost.isEmpty, "\(lost)")
                for node in nodes {
                    #expect(try await firstAnswer("node \(node.nodeID)'s decrypt failures metric") { await Self.metric(node, "disco_gossip_decrypt_failures_total") } == 0,
                            "node \(node.nodeID)")
                }

                // A broken keyring file is refused; the node keeps gossiping with the keys it has.
                try write("1", #"{"primary": "not a key"}"#)
                nodes[0].process.send(SIGHUP)
                try await NodeTests.eventually("node 1 to refuse the broken keyring, and log why", nodes) {
                    await Self.metric(nodes[0], "disco_gossip_keyring_reload_failures_total") == 1
                        && nodes[0].process.output.contains("gossip keyring not reloaded; the keys in use stay")
                }
                #expect(try await firstAnswer("node 1's keys metric") { await Self.metric(nodes[0], "disco_gossip_keys") } == 1)
                try await NodeTests.eventually("everyone still alive", nodes) { await Self.everyoneAlive(nodes) }

                // Raft moved to key B with the gossip: a node given key B only receives the log.
                let event = #"{"rotated":"to B"}"#
                #expect(try await nodes[1].appendEvent(event) != nil)
                let newcomer = try cluster.start(id: "4", ports: try DiscodCluster.ports(),
                                                 flags: ["-raft-non-voter", "-join", DiscodCluster.joinList(ports), "-gossip-key", Self.keyB])
                try await NodeTests.eventually("node 4, with key B only, to receive the log over sealed Raft", nodes + [newcomer]) {
                    (try? await newcomer.eventData())?.contains(event) == true
                }
            }
        }

        @Test func aBadKeyOrKeyringStopsDiscodBeforeItStarts() async throws {
            let short = try await ExecutableRunner.run("discod", ["-gossip-key", "c2hvcnQ=", "data"], in: try ExecutableRunner.temporaryDirectory())
            #expect(short.status == 2)
            #expect(short.standardError.contains("-gossip-key: the key decodes to 5 bytes, but AES-256 needs exactly 32"))
            let missing = try await ExecutableRunner.run("discod", ["-gossip-keyring", "/nonexistent/k.json", "data"],
                                                         in: try ExecutableRunner.temporaryDirectory())
            #expect(missing.status == 2)
            #expect(missing.standardError.contains(#"-gossip-keyring: gossip keyring file "/nonexistent/k.json" does not exist"#))
        }
    }
}
