import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - Identity is not an address

extension NodeProcessTests {
    @Suite struct Identity {
        /// Joins and notifies naming an existing member at other addresses (the issue's hijack
        /// probe) get 409 naming the member and where it is; replication to it continues. The
        /// member itself, restarted on new ports, proves it with its node key and is recorded at
        /// its new addresses on every node.
        @Test func hijackAttemptsAreRefusedAndTheRealNodeMovesWithItsKey() async throws {
            try await DiscodCluster.with("identity") { cluster in
                let (nodes, ports, leaderID) = try await NodeTests.formedSeedCluster(cluster)
                try await NodeTests.eventually("three voters on every node", nodes) {
                    for node in nodes where await NodeTests.voterIDs(node) != ["1", "2", "3"] { return false }
                    return true
                }
                let (leader, followers) = try NodeTests.split(nodes, leader: leaderID)
                let victim = followers[0]
                let fake = #""addr":"127.0.0.99:7002","api_addr":"127.0.0.99:7012","voter":true,"cluster":"disco""#
                let join = try await leader.request("POST", "/join", body: #"{"id":"\#(victim.nodeID)",\#(fake)}"#)
                #expect(join.status == 409, "\(join.status) \(join.text)")
                #expect(join.json?["member"]?.stringValue == victim.nodeID)
                #expect(join.json?["addr"]?.stringValue == victim.raftAddress, "\(join.text)")
                #expect(join.json?["api_addr"]?.stringValue == victim.apiURL, "\(join.text)")
                #expect(join.json?["error"]?.stringValue?.contains("node \(victim.nodeID) is already a member at \(victim.raftAddress)") == true,
                        "\(join.text)")
                let wrongKey = String(repeating: "ab", count: 32)
                let keyed = try await leader.request("POST", "/join", body: #"{"id":"\#(victim.nodeID)",\#(fake),"node_key":"\#(wrongKey)"}"#)
                #expect(keyed.status == 409, "a wrong node key must not prove anything: \(keyed.text)")
                for node in nodes {
                    // A node that has not applied the victim's record yet cannot judge: it answers
                    // 503 (retry); once it has, 409. Never anything that accepts the move: the first
                    // answer other than 503 (or no answer) is the verdict, and it must be 409.
                    var verdict: DiscodAnswer?
                    try await waitUntil("node \(node.nodeID) to answer the notify other than 503") {
                        verdict = try? await node.request("POST", "/notify", body: #"{"id":"\#(victim.nodeID)",\#(fake),"expect":3}"#)
                        return verdict.map { $0.status != 503 } ?? false
                    }
                    #expect(verdict?.status == 409, "notify to node \(node.nodeID): \(verdict.map { "\($0.status) \($0.text)" } ?? "")")
                }

                // Replication to the victim continues, and every node still has it at its address.
                let events = NodeTests.events("identity", 1...3)
                for event in events { try await NodeTests.append(event, via: followers[1], others: nodes) }
                try await NodeTests.waitForEvents(events, on: nodes)
                for node in nodes {
                    let row = await NodeTests.nodeRows(node)?.first { $0["id"]?.stringValue == victim.nodeID }
                    #expect(row?["addr"]?.stringValue == victim.raftAddress, "node \(node.nodeID): \(String(describing: row))")
                }
                // Two joins and one notify reached the leader.
                let metrics = try await firstAnswer("GET /metrics on the leader") { try await leader.request("GET", "/metrics") }.text
                #expect(metrics.contains("disco_identity_refusals_total 3"), "\(metrics)")

                // The real node moves: restarted on new ports, it proves itself with its key.
                #expect(await victim.terminate() == 0)
                let newPorts = try DiscodCluster.ports()
                var joinPorts = ports.filter { $0.http != victim.httpPort }
                joinPorts.append(newPorts)
                let moved = try cluster.restart(victim, ports: newPorts, flags: NodeTests.seedFlags(expect: 3, join: joinPorts))
                let all = [leader, followers[1], moved]
                try await NodeTests.eventually("every node to record node \(moved.nodeID) at \(moved.raftAddress)", all) {
                    for node in all {
                        let row = await NodeTests.nodeRows(node)?.first { $0["id"]?.stringValue == moved.nodeID }
                        guard row?["addr"]?.stringValue == moved.raftAddress, row?["api_addr"]?.stringValue == moved.apiURL else { return false }
                    }
                    return true
                }
                let later = #"{"test":"identity","n":"moved"}"#
                try await NodeTests.append(later, via: moved, others: all)
                try await NodeTests.waitForEvents(events + [later], on: all)
                #expect(moved.process.output.contains("was removed") == false)
            }
        }
    }
}
