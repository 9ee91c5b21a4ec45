import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - A late self-description never moves a member back

extension NodeProcessTests {
    @Suite struct MemberGeneration {
        /// Every node restarts on new ports (each start advances its generation). Then a join and
        /// a notify the victim "sent before the restart" arrive late at the leader: its old
        /// addresses, its old generation, its real node key (so they prove who sent them). The
        /// join is refused as stale, the notify moves nothing, and `/nodes` on every node keeps
        /// the new addresses and the new generation.
        ///
        /// Embedded Raft only: with `-consensus etcd`, a leader that restarted with every other
        /// node may hold no record and no trusted address of a follower (it answers that
        /// follower's proven join 503 "has not learned its addresses and key yet"), so the
        /// follower's record this test starts from is not guaranteed there. The stale-record rule
        /// itself is the same code for both engines (``ClusterState`` applies either log).
        @Test(arguments: [DiscodEngine.raft]) func lateOldSelfDescriptionsDoNotMoveARestartedMember(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("membergen", engine: engine) { cluster in
                let (nodes, _, _) = try await NodeTests.formedSeedCluster(cluster)
                // Each node's addresses and generation before the restart.
                var before: [String: (raft: String, api: String, generation: UInt64)] = [:]
                try await NodeTests.eventually("every node's generation in /status", nodes) {
                    for node in nodes {
                        guard let generation = await Self.generation(of: node) else { return false }
                        before[node.nodeID] = (node.raftAddress, node.apiURL, generation)
                    }
                    return true
                }
                try await NodeTests.eventually("the cluster epoch on node \(nodes[0].nodeID)", nodes) { await NodeTests.epoch(of: nodes[0]) != nil }
                let epoch = try #require(await NodeTests.epoch(of: nodes[0]))
                for node in nodes {
                    let status = await node.terminate()
                    #expect(status == 0, "node \(node.nodeID) exit status \(status.map(String.init) ?? "none")")
                }

                let newPorts = try DiscodCluster.ports(count: 3)
                let flags = NodeTests.seedFlags(expect: 3, join: newPorts)
                let again = try zip(nodes, newPorts).map { node, ports in try cluster.restart(node, ports: ports, flags: flags) }
                let (leader, followers) = try NodeTests.split(again, leader: try await DiscodCluster.waitForLeader(again))
                let moved = followers[0]
                let movedOld = try #require(before[moved.nodeID])
                let movedKey = try Self.nodeKey(of: moved)
                var generation: UInt64 = 0
                try await NodeTests.eventually("node \(moved.nodeID) recorded at its new addresses and generation on every node", again) {
                    guard let current = await Self.generation(of: moved) else { return false }
                    generation = current
                    for node in again {
                        let row = await Self.row(moved.nodeID, on: node)
                        guard row?.api == moved.apiURL, row?.generation == current else { return false }
                    }
                    return true
                }
                #expect(generation > movedOld.generation, "a restart must advance the generation")

                let stale = #""id":"\#(moved.nodeID)","addr":"\#(movedOld.raft)","api_addr":"\#(movedOld.api)","voter":true,"cluster":"disco","node_key":"\#(movedKey)","generation":\#(movedOld.generation)"#
                let join = try await leader.request("POST", "/join", body: "{\(stale),\"epoch\":\(epoch)}")
                #expect(join.status == 409, "\(join.status) \(join.text)")
                #expect(join.json?["error"]?.stringValue?.contains("generation \(movedOld.generation)") == true, "\(join.text)")
                #expect(await Self.row(moved.nodeID, on: leader)?.api == moved.apiURL, "the stale join moved the member on the leader")
                let notify = try await leader.request("POST", "/notify", body: "{\(stale),\"expect\":3}")
                #expect(notify.status == 200, "\(notify.status) \(notify.text)")
                #expect(await Self.row(moved.nodeID, on: leader)?.api == moved.apiURL, "the stale notify moved the member on the leader")

                // A write after both: once every node has it, each has applied whatever came before.
                let after = #"{"test":"membergen","n":"after"}"#
                try await NodeTests.append(after, via: leader, others: again)
                try await NodeTests.waitForEvents([after], on: again)
                for node in again {
                    let row = await Self.row(moved.nodeID, on: node)
                    #expect(row?.api == moved.apiURL, "node \(node.nodeID) shows \(moved.nodeID) at \(row?.api ?? "nothing")")
                    #expect(row?.generation == generation, "node \(node.nodeID) shows generation \(row?.generation.map(String.init) ?? "none")")
                }
            }
        }

        // MARK: Helpers

        /// `/status` `node.generation` of `node`.
        private static func generation(of node: DiscodProcess) async -> UInt64? {
            (try? await node.status())?["node"]?["generation"]?.numberValue?.uint64Value
        }

        /// The `/nodes` row of `id` on `node`: its API address and recorded generation.
        private static func row(_ id: String, on node: DiscodProcess) async -> (api: String?, generation: UInt64?)? {
            guard let row = await NodeTests.nodeRows(node)?.first(where: { $0["id"]?.stringValue == id }) else { return nil }
            return (row["api_addr"]?.stringValue, row["generation"]?.numberValue?.uint64Value)
        }

        /// The node key in `node`'s data directory.
        private static func nodeKey(of node: DiscodProcess) throws -> String {
            let bytes = try #require(FileManager.default.contents(atPath: node.dataDirectory + "/node-key"))
            return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}
