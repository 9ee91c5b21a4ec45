import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Crashes, graceful stops and restarts

extension NodeProcessTests {
    @Suite struct Recovery {
        /// kill -9 of the leader after acknowledged events: the survivors elect a leader, keep
        /// every acknowledged event and accept new ones.
        @Test(arguments: DiscodEngine.allCases) func killedLeaderLosesNoAcknowledgedEvent(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("kill9", engine: engine) { cluster in
                let (nodes, _, leader) = try await NodeTests.formedSeedCluster(cluster)
                let acknowledged = NodeTests.events("kill9", 1...5)
                for (index, event) in acknowledged.enumerated() {
                    let seq = try await NodeTests.append(event, via: nodes[index % nodes.count], others: nodes)
                    #expect(seq == UInt64(index + 1))
                }
                let (victim, survivors) = try NodeTests.split(nodes, leader: leader)
                await victim.kill()
                #expect(victim.process.exitStatus == 128 + SIGKILL)
                let next = try await NodeTests.waitForNewLeader(survivors, replacing: leader)
                #expect(survivors.contains { $0.nodeID == next })
                try await NodeTests.waitForEvents(acknowledged, on: survivors)
                let later = #"{"test":"kill9","n":"after"}"#
                let seq = try await NodeTests.append(later, via: survivors[0], others: survivors)
                #expect(seq == 6)
                try await NodeTests.waitForEvents(acknowledged + [later], on: survivors)
            }
        }

        /// SIGTERM of the leader: it exits 0 and the two survivors elect a new leader.
        @Test(arguments: DiscodEngine.allCases) func sigtermOfLeaderExitsZeroAndSurvivorsElect(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("sigterm", engine: engine) { cluster in try await stopLeaderGracefully(cluster) }
        }

        private func stopLeaderGracefully(_ cluster: DiscodCluster) async throws {
            let (nodes, _, leader) = try await NodeTests.formedSeedCluster(cluster)
            try await NodeTests.append(#"{"test":"sigterm"}"#, via: nodes[0], others: nodes)
            let (old, survivors) = try NodeTests.split(nodes, leader: leader)
            let status = await old.terminate()
            #expect(status == 0, "exit status \(String(describing: status)):\n\(old.process.output.suffix(4000))")
            let next = try await NodeTests.waitForNewLeader(survivors, replacing: leader)
            #expect(next != leader)
            try await NodeTests.append(#"{"test":"sigterm","n":"after"}"#, via: survivors[1], others: survivors)
        }

        /// Every node stopped with SIGTERM (exit 0) and started again on the same ports: the
        /// same cluster (epoch), the same events, a leader again.
        @Test(arguments: DiscodEngine.allCases) func allNodesRestartedOnSamePorts(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("restart", engine: engine) { cluster in
                let (nodes, _, _) = try await NodeTests.formedSeedCluster(cluster)
                let events = NodeTests.events("restart", 1...3)
                for event in events { try await NodeTests.append(event, via: nodes[1], others: nodes) }
                let epoch = try await agreedEpoch(nodes)
                try await NodeTests.waitForEvents(events, on: nodes)
                try await stopAll(nodes)
                let again = try nodes.map { try cluster.restart($0) }
                try await DiscodCluster.waitForLeader(again)
                try await NodeTests.waitForEvents(events, on: again)
                #expect(try await agreedEpoch(again) == epoch)
                try await NodeTests.append(#"{"test":"restart","n":"after"}"#, via: again[2], others: again)
            }
        }

        /// Every node stopped and started again on new ports with `-join` listing the new
        /// addresses: the cluster re-forms with the same epoch and events.
        @Test(arguments: DiscodEngine.allCases) func allNodesRestartedOnNewPorts(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("newports", engine: engine) { cluster in
                let (nodes, _, _) = try await NodeTests.formedSeedCluster(cluster)
                let events = NodeTests.events("newports", 1...3)
                for event in events { try await NodeTests.append(event, via: nodes[2], others: nodes) }
                let epoch = try await agreedEpoch(nodes)
                try await NodeTests.waitForEvents(events, on: nodes)
                try await stopAll(nodes)
                let newPorts = try DiscodCluster.ports(count: 3)
                let flags = NodeTests.seedFlags(expect: 3, join: newPorts)
                let again = try zip(nodes, newPorts).map { node, ports in try cluster.restart(node, ports: ports, flags: flags) }
                let leader = try await DiscodCluster.waitForLeader(again)
                let leaderNode = try NodeTests.split(again, leader: leader).leader
                try await NodeTests.eventually("/leader to show the new addresses", again) {
                    guard let answer = try? await again[0].request("GET", "/leader"), answer.status == 200 else { return false }
                    return answer.json?["api_addr"]?.stringValue == leaderNode.apiURL
                }
                try await NodeTests.waitForEvents(events, on: again)
                #expect(try await agreedEpoch(again) == epoch)
                try await NodeTests.append(#"{"test":"newports","n":"after"}"#, via: again[0], others: again)
            }
        }

        // MARK: Helpers

        /// SIGTERM to each node in turn; each must exit 0.
        private func stopAll(_ nodes: [DiscodProcess]) async throws {
            for node in nodes {
                let status = await node.terminate()
                #expect(status == 0, "node \(node.nodeID) exit status \(status.map(String.init) ?? "none"):\n\(node.process.output.suffix(4000))")
            }
        }

        /// The epoch every node reports in /status (waits until they agree).
        private func agreedEpoch(_ nodes: [DiscodProcess]) async throws -> String {
            var epochs: [String?] = []
            try await NodeTests.eventually("the same cluster epoch on every node", nodes) {
                epochs = await nodes.asyncMap { await NodeTests.epoch(of: $0) }
                return epochs[0] != nil && Set(epochs).count == 1
            }
            return epochs[0] ?? ""
        }
    }
}
