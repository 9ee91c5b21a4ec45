import DiscoCore
import DiscoEtcd
import DiscoNet
import DiscoTestKit
import Foundation
import Glibc
import Testing

// MARK: - Removal with the etcd engine

extension NodeProcessTests {
    /// `discod -consensus etcd` on a real etcd: a removed node learns it from its watch on etcd's
    /// membership, also when it was held stopped (SIGSTOP) while the removal committed, and a
    /// member held stopped until its etcd lease expired is not taken for a removed one.
    @Suite struct EtcdRemoval {
        /// Who is removed, and whether it is held stopped while the removal commits.
        enum Case: String, CaseIterable, CustomStringConvertible {
            case nonVoter
            /// A non-voter removed as soon as the leader lists it, seen by itself as a member or not.
            case justJoinedNonVoter
            case stoppedVoter
            case stoppedNonVoter

            var stopped: Bool { self == .stoppedVoter || self == .stoppedNonVoter }
            var voter: Bool { self == .stoppedVoter }
            var description: String { rawValue }
        }

        /// Three voters formed with `-bootstrap-expect 3`, and a fourth node joined as a
        /// non-voter (once the leader lists it, or once the voters all do, which is later);
        /// returns every node and the leader's ID.
        static func votersAndNonVoter(_ cluster: DiscodCluster, justJoined: Bool) async throws -> (nodes: [DiscodProcess], leader: String) {
            let (voters, ports, leaderID) = try await NodeTests.formedSeedCluster(cluster)
            let (leader, _) = try NodeTests.split(voters, leader: leaderID)
            let nonVoter = try cluster.start(id: "4", ports: try DiscodCluster.ports(), flags: ["-raft-non-voter", "-join", DiscodCluster.joinList(ports)])
            let nodes = voters + [nonVoter]
            if justJoined {
                try await NodeTests.eventually("node 4 to join", nodes) { await leader.memberIDs()?.contains("4") == true }
                return (nodes, leaderID)
            }
            try await NodeTests.eventually("node 4 to be a member", nodes) {
                for voter in voters where await voter.memberIDs() != ["1", "2", "3", "4"] { return false }
                return true
            }
            return (nodes, try await DiscodCluster.waitForLeader(voters))
        }

        @Test(arguments: Case.allCases) func aRemovedNodeLearnsItAndExits(removing: Case) async throws {
            try await DiscodCluster.with("etcd-removal", engine: .etcd) { cluster in
                let (nodes, leaderID) = try await Self.votersAndNonVoter(cluster, justJoined: removing == .justJoinedNonVoter)
                let (leader, others) = try NodeTests.split(nodes, leader: leaderID)
                let target = try #require(others.first { removing.voter ? $0.nodeID != "4" : $0.nodeID == "4" })
                let rest = nodes.filter { $0.nodeID != target.nodeID }
                if removing.stopped { target.process.send(SIGSTOP) }
                do {
                    try await NodeTests.remove(target.nodeID, via: leader, watching: rest)
                    try await NodeTests.eventually("the removal of node \(target.nodeID) to commit", rest) {
                        await leader.memberIDs().map { !$0.contains(target.nodeID) } ?? false
                    }
                    // Held stopped until etcd expired its lease too: resumed, it holds a lease again.
                    if removing.stopped { try await Self.waitForLeaseExpiry(of: target, in: cluster, watching: rest) }
                } catch {
                    if removing.stopped { target.process.send(SIGCONT) }
                    throw error
                }
                if removing.stopped { target.process.send(SIGCONT) }

                try await NodeTests.eventually("node \(target.nodeID) to report that it was removed", [target], requireRunning: false) {
                    (try? await target.status())?["removed"]?.boolValue == true
                }
                let ready = try await target.request("GET", "/readyz")
                #expect(ready.status == 503 && ready.text.contains("was removed from the cluster"), "\(ready.status) \(ready.text)")
                #expect(try await target.process.waitForExit(timeout: .seconds(60)) == 1)
                #expect(target.process.output.contains("node \(target.nodeID) was removed from the cluster"), "\(target.process.output.suffix(3000))")
                // The others keep going and were told nothing.
                try await NodeTests.append(#"{"test":"etcd-removal"}"#, via: rest[0], others: rest)
                for node in rest { #expect(try await firstAnswer("GET /status on node \(node.nodeID)") { try await node.status() }["removed"]?.boolValue == false) }
            }
        }

        /// `DELETE /remove` naming the leader, sent to the leader: it hands leadership on and
        /// answers 307 to the new leader, which removes it; the old leader learns it and exits.
        @Test func theLeaderRemovedThroughItsOwnAPIHandsOverLearnsItAndExits() async throws {
            try await DiscodCluster.with("etcd-remove-leader", engine: .etcd) { cluster in
                let (nodes, _, leaderID) = try await NodeTests.formedSeedCluster(cluster)
                let (old, followers) = try NodeTests.split(nodes, leader: leaderID)
                var redirect: DiscodAnswer?
                try await NodeTests.eventually("DELETE /remove of leader \(leaderID) on itself to redirect", nodes, retryingErrors: true) {
                    let answer = try await old.request("DELETE", "/remove", body: #"{"id":"\#(leaderID)"}"#, timeout: .seconds(30))
                    guard answer.status != 503 else { return false }
                    redirect = answer
                    return true
                }
                let answer = try #require(redirect)
                #expect(answer.status == 307, "\(answer.status) \(answer.text)")
                let next = try #require(followers.first { answer.location == $0.apiURL + "/remove" }, "\(answer.location ?? "no Location")")
                try await NodeTests.remove(leaderID, via: next, watching: followers)

                try await NodeTests.eventually("node \(leaderID) to report that it was removed", [old], requireRunning: false) {
                    (try? await old.status())?["removed"]?.boolValue == true
                }
                let ready = try await old.request("GET", "/readyz")
                #expect(ready.status == 503 && ready.text.contains("was removed from the cluster"), "\(ready.status) \(ready.text)")
                #expect(try await old.process.waitForExit(timeout: .seconds(60)) == 1)
                #expect(old.process.output.contains("node \(leaderID) was removed from the cluster"), "\(old.process.output.suffix(3000))")
                try await NodeTests.append(#"{"test":"etcd-remove-leader"}"#, via: followers[0], others: followers)
                #expect(try await firstAnswer("GET /nodes on a follower") { await followers[0].voterIDs() } == followers.map(\.nodeID).sorted())
            }
        }

        /// Waits until etcd no longer holds `node`'s lease-bound member record.
        static func waitForLeaseExpiry(of node: DiscodProcess, in cluster: DiscodCluster, watching nodes: [DiscodProcess]) async throws {
            let etcd = try #require(cluster.etcd)
            let record = EtcdClusterKeys(discoKey: "disco-\(cluster.root.suffix(8))").member(try #require(NodeID(node.nodeID)))
            let client = EtcdClient(gateway: EtcdGateway(endpoints: etcd.endpoints, transport: HTTPClient()))
            try await NodeTests.eventually("etcd to expire node \(node.nodeID)'s lease", nodes, retryingErrors: true) {
                try await client.get(record) == nil
            }
        }

        /// A member held stopped until etcd expired its lease (its member record is gone) is
        /// still a member: resumed, it records itself again and is never told it was removed.
        @Test func aMemberHeldStoppedUntilItsLeaseExpiredIsNotRemoved() async throws {
            try await DiscodCluster.with("etcd-stopped", engine: .etcd) { cluster in
                let etcd = try #require(cluster.etcd)
                let (nodes, _, leaderID) = try await NodeTests.formedSeedCluster(cluster)
                let (_, followers) = try NodeTests.split(nodes, leader: leaderID)
                let target = followers[0]
                let keys = EtcdClusterKeys(discoKey: "disco-\(cluster.root.suffix(8))")
                let client = EtcdClient(gateway: EtcdGateway(endpoints: etcd.endpoints, transport: HTTPClient()))
                let record = keys.member(try #require(NodeID(target.nodeID)))
                try await NodeTests.eventually("node \(target.nodeID)'s member record in etcd", nodes, retryingErrors: true) {
                    try await client.get(record) != nil
                }
                target.process.send(SIGSTOP)
                do {
                    try await Self.waitForLeaseExpiry(of: target, in: cluster, watching: nodes.filter { $0 !== target })
                } catch {
                    target.process.send(SIGCONT)
                    throw error
                }
                target.process.send(SIGCONT)
                try await NodeTests.eventually("node \(target.nodeID) to record itself in etcd again", nodes, retryingErrors: true) {
                    try await client.get(record) != nil
                }
                try await NodeTests.eventually("node \(target.nodeID) to be ready again", nodes, retryingErrors: true) {
                    try await target.request("GET", "/readyz").status == 200
                }
                try await NodeTests.append(#"{"test":"etcd-stopped"}"#, via: target, others: nodes)
                #expect(try await firstAnswer("GET /status on the target") { try await target.status() }["removed"]?.boolValue == false)
                #expect(!target.process.output.contains("was removed"))
                #expect(try await firstAnswer("GET /nodes on node 1") { await nodes[0].voterIDs() } == ["1", "2", "3"])
            }
        }
    }
}
