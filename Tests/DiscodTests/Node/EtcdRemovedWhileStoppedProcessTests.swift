import DiscoCore
import DiscoEtcd
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - A member removed while it was stopped (etcd engine)

extension NodeProcessTests {
    /// `discod -consensus etcd` on a real etcd: a member stopped, removed, and started again
    /// learns its removal from etcd's membership, as a node of the embedded Raft engine learns
    /// it from the leader's answer to its rejoin; a member of a cluster created again under the
    /// same key is not taken for a removed one.
    @Suite struct EtcdRemovedWhileStopped {
        /// Waits until `node`'s `etcd-member.json` is a member's record naming the cluster's
        /// identity (the `cluster` key's create revision); returns the record.
        static func memberRecord(of node: DiscodProcess, watching nodes: [DiscodProcess]) async throws -> JSONValue {
            var record: JSONValue?
            try await NodeTests.eventually("node \(node.nodeID)'s etcd-member.json to name its cluster", nodes) {
                guard let bytes = FileManager.default.contents(atPath: node.dataDirectory + "/etcd-member.json"),
                      let parsed = try? JSONValue.parse(Array(bytes)) else { return false }
                record = parsed
                return parsed["state"]?.stringValue == "member" && parsed["cluster_revision"]?.numberValue != nil
            }
            return try #require(record)
        }

        /// The seed's three voters; a follower is stopped (SIGTERM), removed through the leader,
        /// and started again with its original command: it reports its removal (naming etcd and
        /// the key), answers `/readyz` 503, exits 1 and records `removed.json`. Started again
        /// without `-join` it refuses to run; with `-join` it joins as a new member.
        @Test func aMemberRemovedWhileStoppedLearnsItWhenStartedAgain() async throws {
            try await DiscodCluster.with("etcd-removed-stopped", engine: .etcd) { cluster in
                let (nodes, ports, leaderID) = try await NodeTests.formedSeedCluster(cluster)
                try await NodeTests.eventually("three voters", nodes) { await NodeTests.voterIDs(nodes[0]) == ["1", "2", "3"] }
                let (leader, followers) = try NodeTests.split(nodes, leader: leaderID)
                let target = followers[0]
                let remaining = [leader, followers[1]]
                _ = try await Self.memberRecord(of: target, watching: nodes)

                #expect(await target.terminate() == 0)
                try await NodeTests.remove(target.nodeID, via: leader, watching: remaining)
                try await NodeTests.eventually("the removal of node \(target.nodeID) to commit", remaining) {
                    await leader.memberIDs().map { !$0.contains(target.nodeID) } ?? false
                }
                try await NodeTests.append(#"{"test":"etcd-removed-stopped","n":1}"#, via: remaining[1], others: remaining)

                // Its original command: it learns from etcd that it was removed, as under Raft.
                let restarted = try cluster.restart(target)
                var status: JSONValue?
                try await NodeTests.eventually("node \(target.nodeID) to report that it was removed", [restarted], requireRunning: false) {
                    status = try? await restarted.status()
                    return status?["removed"]?.boolValue == true
                }
                #expect(status?["removal"]?["reported_by"] == .null, "\(String(describing: status))")
                let ready = try await restarted.request("GET", "/readyz")
                #expect(ready.status == 503 && ready.text.contains("was removed from the cluster"), "\(ready.status) \(ready.text)")
                #expect(try await restarted.process.waitForExit(timeout: .seconds(60)) == 1)
                let key = "/disco-\(cluster.root.suffix(8))/"
                #expect(restarted.process.output.contains("node \(target.nodeID) was removed from the cluster (the membership under \(key) in etcd at"),
                        "\(restarted.process.output.suffix(3000))")
                #expect(restarted.process.output.contains("removed while it was stopped"), "\(restarted.process.output.suffix(3000))")
                #expect(restarted.process.output.contains("start it with -join"))
                #expect(FileManager.default.fileExists(atPath: cluster.dataDirectory(for: target.nodeID) + "/removed.json"))
                #expect(try await firstAnswer("GET /nodes on the leader") { await leader.memberIDs() } == remaining.map(\.nodeID).sorted())

                // Without -join it refuses to run; with -join it joins as a new member.
                let again = try await NodeTests.refusesWithoutJoinThenRejoins(target, in: cluster, ports: ports, remaining: remaining)
                let all = remaining + [again]
                try await NodeTests.waitForEvents([#"{"test":"etcd-removed-stopped","n":1}"#], on: all)
                #expect((try await again.status())["removed"]?.boolValue == false)
                #expect(!FileManager.default.fileExists(atPath: cluster.dataDirectory(for: target.nodeID) + "/removed.json"))
            }
        }

        /// A single-node cluster's member is stopped, etcd's keys under the cluster's prefix are
        /// deleted and another node bootstraps a new cluster there. Started again with `-join`
        /// to that node, the old member is not taken for a removed one: its record names another
        /// cluster (create revision and id), so it says so and joins the new cluster as a new member.
        @Test func aMemberOfAClusterCreatedAgainUnderItsKeyIsNotTakenForRemoved() async throws {
            try await DiscodCluster.with("etcd-recreated", engine: .etcd) { cluster in
                let etcd = try #require(cluster.etcd)
                let keys = EtcdClusterKeys(discoKey: "disco-\(cluster.root.suffix(8))")
                let client = EtcdClient(gateway: EtcdGateway(endpoints: etcd.endpoints, transport: HTTPClient()))
                let first = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: [])
                _ = try await DiscodCluster.waitForLeader([first])
                let recorded = try await Self.memberRecord(of: first, watching: [first])
                #expect(await first.terminate() == 0)

                // The cluster is gone from etcd, and a new one is created under the same key.
                _ = try await client.delete(keys.root, prefix: true)
                let secondPorts = try DiscodCluster.ports()
                let second = try cluster.start(id: "2", ports: secondPorts, flags: [])
                _ = try await DiscodCluster.waitForLeader([second])
                let created = try #require(try await client.get(keys.cluster))
                let createdID = try #require(try JSONValue.parse(created.value)["id"]?.stringValue)
                #expect(createdID != recorded["cluster_id"]?.stringValue)

                let again = try cluster.restart(first, flags: ["-join", DiscodCluster.joinList([secondPorts])])
                try await NodeTests.eventually("node 1 to join the new cluster", [second, again]) {
                    guard await second.memberIDs() == ["1", "2"] else { return false }
                    return (try? await again.status())?["bootstrap"]?["state"]?.stringValue == "clustered"
                }
                #expect(again.process.output.contains("created later under the same key"), "\(again.process.output.suffix(3000))")
                #expect(!again.process.output.contains("was removed"), "\(again.process.output.suffix(3000))")
                #expect((try await again.status())["removed"]?.boolValue == false)
                #expect(!FileManager.default.fileExists(atPath: cluster.dataDirectory(for: "1") + "/removed.json"))
                // Its record now names the new cluster.
                let renewed = try await Self.memberRecord(of: again, watching: [second, again])
                #expect(renewed["cluster_id"]?.stringValue == createdID)
                #expect(renewed["cluster_revision"]?.numberValue?.int64Value == created.createRevision)
            }
        }
    }
}
