import DiscoCore
import DiscoEtcd
import DiscoNet
import DiscoTestKit
import Synchronization
import Testing
@testable import NodeRuntime

/// The etcd consensus engine in-process against real etcd: formation, one leader, identical
/// logs on every node, leader crash, etcd down and back, partitioned leader, snapshots.
@Suite(.serialized) struct EtcdConsensusTests {
    @Test func threeNodesElectOneLeaderAndApplyTheSameGapFreeLog() async throws {
        try await withEtcdEngines { group in
            let ids: [NodeID] = ["1", "2", "3"]
            for id in ids { group.start(id) }
            #expect(group.engines["1"]?.status.hasState == false)
            try await group.engines["1"]!.bootstrap(voters: ids)
            await #expect(throws: ConsensusError.self, "a second bootstrap is refused") {
                try await group.engines["2"]!.bootstrap(voters: ids)
            }
            let leader = try await group.leader()
            #expect(leader.status.voters == ids && leader.status.hasState)
            let follower = try #require(ids.compactMap { group.engines[$0] }.first { !$0.status.isLeader })
            do {
                _ = try await follower.propose(try EtcdEngineGroup.event(0))
                Issue.record("a follower accepted a proposal")
            } catch let error as ConsensusError {
                #expect(error.code == .notLeader && error.leader == leader.localID, "\(error)")
            }
            _ = try await leader.propose(try ClusterCommand.initialize(cluster: "etcd-test", epoch: 1).encode())
            let indexes = try await withThrowingTaskGroup(of: UInt64.self) { tasks in
                for number in 1...64 { tasks.addTask { try await leader.propose(try EtcdEngineGroup.event(number)) } }
                return try await tasks.reduce(into: [UInt64]()) { $0.append($1) }
            }
            #expect(indexes.sorted() == Array(2...65), "64 concurrent proposals get the indexes 2...65, each once")
            let reference = leader.store.events(since: 0, limit: 1000)
            #expect(reference.events.count == 64 && reference.lastSeq == 64)
            for engine in group.engines.values {
                try await waitUntil("node \(engine.localID) to apply all 65 entries") { engine.status.appliedIndex == 65 }
                #expect(engine.store.cluster == "etcd-test")
                #expect(engine.store.events(since: 0, limit: 1000) == reference, "every node holds the same events")
            }
        }
    }

    /// What `/readyz?sync` waits for under etcd is the log's last index read from etcd, not what
    /// this node's watch has delivered: an append etcd confirmed counts at once on every node,
    /// even one whose watch has not read the log yet.
    @Test func theCatchUpTargetIsTheLastIndexInEtcd() async throws {
        try await withEtcdEngines { group in
            let ids: [NodeID] = ["1", "2"]
            for id in ids { group.start(id) }
            try await group.engines["1"]!.bootstrap(voters: ids)
            let leader = try await group.leader()
            let follower = try #require(ids.compactMap { group.engines[$0] }.first { !$0.status.isLeader })
            _ = try await leader.propose(try ClusterCommand.initialize(cluster: "etcd-sync", epoch: 1).encode())
            let index = try await leader.propose(try EtcdEngineGroup.event(1))
            #expect(try await leader.catchUpTarget() == index)
            #expect(try await follower.catchUpTarget() == index)
            try await waitUntil("node \(follower.localID) to apply entry \(index)") { follower.status.appliedIndex >= index }
            // An engine that has only just started knows nothing of the log yet; etcd does.
            let late = group.start("3")
            #expect(try await late.catchUpTarget() == index)
        }
    }

    @Test func aCrashedLeaderIsReplacedWithAHigherTermOnceItsLeaseExpires() async throws {
        try await withEtcdEngines { group in
            let ids: [NodeID] = ["1", "2", "3"]
            for id in ids { group.start(id) }
            try await group.engines["1"]!.bootstrap(voters: ids)
            let first = try await group.leader()
            let firstTerm = first.status.term
            _ = try await first.propose(try EtcdEngineGroup.event(1))
            await first.halt()
            let rest = ids.filter { $0 != first.localID }
            let second = try await group.leader(among: rest)
            #expect(second.status.term > firstTerm, "the new leader's term (its key's create revision) is higher")
            #expect(!first.status.isLeader)
            _ = try await second.propose(try EtcdEngineGroup.event(2))
            for id in rest {
                let engine = try #require(group.engines[id])
                try await waitUntil("node \(id) to apply both events") { engine.store.lastSeq == 2 }
            }
            let live = second.status.peers.filter { $0.value.recentlyActive }.keys
            #expect(Set(live) == Set(rest.filter { $0 != second.localID }), "the crashed node's lease-bound record expired")
            group.engines[first.localID] = nil
        }
    }

    /// A node first in etcd's election line but not yet leading (here: restarted while its old
    /// lease still holds the line) refuses proposals, so it must not name itself leader: a
    /// client told "leader is 1" by node 1 would get "no leader yet" from it.
    @Test func aNodeFirstInLineButNotYetLeadingDoesNotNameItselfLeader() async throws {
        try await withEtcdEngines { group in
            group.start("1", ttl: .seconds(60))
            try await group.engines["1"]!.bootstrap(voters: ["1"])
            let first = try await group.leader()
            _ = try await first.propose(try EtcdEngineGroup.event(1))
            await first.halt()
            let restarted = group.start("1")
            try await waitUntil("the restarted node to read the cluster") {
                restarted.status.voters.contains("1") && restarted.store.lastSeq == 1
            }
            #expect(!restarted.status.isLeader, "the old lease still holds the line")
            #expect(restarted.status.leader == nil, "named \(String(describing: restarted.status.leader)) leader while refusing proposals")
            await #expect(throws: ConsensusError.self) { _ = try await restarted.propose(try EtcdEngineGroup.event(2)) }
        }
    }

    @Test func writesFailNamingEtcdWhileItIsDownAndTheClusterRecoversByItself() async throws {
        try await withEtcdEngines { group in
            let ids: [NodeID] = ["1", "2"]
            for id in ids { group.start(id) }
            try await group.engines["1"]!.bootstrap(voters: ids)
            let leader = try await group.leader()
            _ = try await leader.propose(try EtcdEngineGroup.event(1))
            await group.etcd.stopMember(0)
            do {
                _ = try await leader.propose(try EtcdEngineGroup.event(2))
                Issue.record("a write succeeded with etcd down")
            } catch let error as ConsensusError {
                #expect(error.code == .unknown || error.code == .notLeader, "\(error)")
                #expect(error.message.contains("etcd"), "the error names etcd: \(error)")
            }
            try await waitUntil("the leader to stop leading once its lease deadline passed", timeout: .seconds(30)) {
                !leader.status.isLeader
            }
            try await group.etcd.restartMember(0)
            let recovered = try await group.leader(timeout: .seconds(60))
            _ = try await recovered.propose(try EtcdEngineGroup.event(3))
            for engine in group.engines.values {
                try await waitUntil("node \(engine.localID) to catch up after etcd returned") { engine.store.lastSeq == 2 }
                #expect(engine.store.events(since: 0, limit: 10).events.map(\.data) == [Array("{\"n\":1}".utf8), Array("{\"n\":3}".utf8)])
            }
        }
    }

    @Test func aPartitionedLeaderStopsLeadingBeforeAnotherNodeIsElected() async throws {
        try await withEtcdEngines(members: 3) { group in
            let endpoints = group.etcd.endpoints
            // Node 1 reaches etcd only through member 0; nodes 2 and 3 through members 1 and 2.
            group.start("1", endpoints: [endpoints[0]])
            group.start("2", endpoints: [endpoints[1], endpoints[2]])
            group.start("3", endpoints: [endpoints[2], endpoints[1]])
            try await group.engines["1"]!.bootstrap(voters: ["1"])
            _ = try await group.leader(among: ["1"])
            let first = try #require(group.engines["1"])
            // Retried: on a loaded machine the lone leader may briefly lose its lease.
            try await waitUntil("nodes 2 and 3 to become voters") {
                for id: NodeID in ["2", "3"] {
                    guard (try? await first.addLearner(id)) != nil, (try? await first.promote(id)) != nil else { return false }
                }
                return true
            }
            let old = try #require(group.engines["1"])
            let term = old.status.term
            #expect(try await group.leader().localID == "1")
            // Partition node 1 from etcd: its only member stops; the others keep a quorum.
            let oldLostLeadership = Mutex<ContinuousClock.Instant?>(nil)
            let newLeaderSeen = Mutex<ContinuousClock.Instant?>(nil)
            await group.etcd.stopMember(0)
            try await waitUntil("another node to lead", timeout: .seconds(60), pollEvery: .milliseconds(5)) {
                let now = ContinuousClock.now
                if !old.status.isLeader { oldLostLeadership.withLock { $0 = $0 ?? now } }
                let others = ["2", "3"].compactMap { group.engines[NodeID($0)!] }
                if others.contains(where: { $0.status.isLeader && $0.status.term > term }) {
                    newLeaderSeen.withLock { $0 = $0 ?? now }
                    return true
                }
                return false
            }
            let lost = try #require(oldLostLeadership.withLock { $0 }, "the partitioned leader still leads")
            let elected = try #require(newLeaderSeen.withLock { $0 })
            #expect(lost < elected, "the old leader gave up before the new one was elected")
            #expect(!old.status.isLeader)
        }
    }

    @Test func aSnapshotReplacesTheLogPrefixAndANewNodeStartsFromIt() async throws {
        try await withEtcdEngines { group in
            group.start("1", snapshotEvery: 10)
            try await group.engines["1"]!.bootstrap(voters: ["1"])
            let leader = try await group.leader()
            _ = try await leader.propose(try ClusterCommand.initialize(cluster: "snap", epoch: 1).encode())
            for number in 1...24 { _ = try await leader.propose(try EtcdEngineGroup.event(number)) }
            let client = EtcdClient(gateway: EtcdGateway(endpoints: group.etcd.endpoints, transport: HTTPClient()))
            let keys = EtcdClusterKeys(discoKey: group.key)
            try await waitUntil("the snapshot at index 20 to replace the log keys before it") {
                try await client.range(keys.logPrefix).kvs.first.flatMap { keys.logIndex($0.key) } == 21
            }
            #expect(try await client.get(keys.snapshot) != nil)
            let late = group.start("2")
            #expect(late.store.lastSeq == 0)
            try await leader.addLearner("2")
            try await waitUntil("the new node to hold all 24 events") { late.store.lastSeq == 24 }
            #expect(late.store.events(since: 0, limit: 100) == leader.store.events(since: 0, limit: 100))
            #expect(late.store.cluster == "snap")
        }
    }

    @Test func membershipChangesAreFencedAndARemovedNodeKnowsIt() async throws {
        try await withEtcdEngines { group in
            group.start("1")
            let joiner = group.start("2")
            try await group.engines["1"]!.bootstrap(voters: ["1"])
            let leader = try await group.leader(among: ["1"])
            #expect(joiner.status.leader == nil, "a node outside the cluster knows no leader, as with Raft")
            try await leader.addLearner("2")
            try await waitUntil("the joiner to see itself a learner") { joiner.status.learners == ["2"] }
            try await waitUntil("the leader to see the learner caught up") { leader.status.peers["2"]?.caughtUp == true }
            try await leader.promote("2")
            try await waitUntil("the joiner to see itself a voter") { joiner.status.voters == ["1", "2"] }
            await #expect(throws: ConsensusError.self) { try await joiner.addLearner("3") }
            try await leader.removeMember("2")
            try await waitUntil("the removed node to know it") { joiner.status.removal != nil }
            #expect(leader.status.voters == ["1"])
        }
    }

    @Test func theReplicatedKeyValueMapWithCompareAndSetRunsOnTheEtcdEngine() async throws {
        try await withEtcdEngines { group in
            group.start("1")
            group.start("2")
            try await group.engines["1"]!.bootstrap(voters: ["1", "2"])
            let leader = try await group.leader()
            let key = KVKey("app", "config")
            _ = try await leader.propose(try ClusterCommand.kvTransaction(KVTransaction(operations: [.put(key, Array("v1".utf8))])).encode())
            let created = try #require(leader.store.keyValue(key))
            let stale = try await leader.propose(try ClusterCommand.kvTransaction(
                KVTransaction(conditions: [KVCondition(key, revision: created.revision + 100)], operations: [.put(key, Array("no".utf8))])).encode())
            _ = try await leader.propose(try ClusterCommand.kvTransaction(
                KVTransaction(conditions: [KVCondition(key, revision: created.revision)], operations: [.put(key, Array("v2".utf8))])).encode())
            for engine in group.engines.values {
                try await waitUntil("node \(engine.localID) to apply the key-value transactions") { engine.status.appliedIndex >= 3 }
                #expect(engine.store.keyValue(key)?.value == Array("v2".utf8), "the stale compare-and-set at index \(stale) wrote nothing")
                #expect(engine.store.keyValue(key)?.created == created.created)
            }
        }
    }
}
