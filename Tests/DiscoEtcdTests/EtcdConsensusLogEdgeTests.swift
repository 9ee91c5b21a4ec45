import DiscoCore
import DiscoTestKit
import Synchronization
import Testing
@testable import DiscoEtcd

/// The etcd consensus log at its edges: a log too large for one read, appends etcd refuses or
/// that land as the engine stops, and a cluster re-created under the same key.
@Suite(.serialized) struct EtcdConsensusLogEdgeTests {
    /// A node reads the whole prefix when it starts, when it joins and after its watch breaks.
    /// Before the fix it asked for 1,000 keys per page; with 1 MiB entries one page was larger
    /// than the HTTP client's 64 MiB body limit, so the read failed every time: the leader, whose
    /// watch stream broke at that same limit, stopped applying (its 48th proposal never
    /// returned), and a learner added to the cluster never caught up.
    @Test func aLogLargerThanOneHTTPResponseIsReadInPages() async throws {
        try await withEtcd { etcd in
            let key = freshDiscoKey()
            let leader = EtcdLogNode("1", key: key, etcd: etcd, snapshotEvery: 0)
            try await leader.stopping {
                try await leader.log.bootstrap(voters: ["1"])
                try await waitUntil("node 1 to lead") { leader.log.status.isLeader }
                let entry = [UInt8](repeating: 0x62, count: 1 << 20)
                for number in 1...52 {
                    _ = try await outcome(of: "entry \(number) to be applied", within: .seconds(60)) { try await leader.log.propose(entry) }.get()
                }
                let joiner = EtcdLogNode("2", key: key, etcd: etcd, snapshotEvery: 0)
                try await joiner.stopping {
                    try await leader.log.addLearner("2")
                    try await waitUntil("the new node to read and apply the whole log", timeout: .seconds(120)) {
                        joiner.appliedIndexes == Array(1...52)
                    }
                }
            }
        }
    }

    /// An append whose compare on `seq` fails writes nothing. Before the fix, after losing three
    /// such races the proposer was told etcd was unavailable (the node's "outcome unknown; check
    /// before retrying") although etcd had definitely written nothing.
    @Test func anAppendThatLosesEveryRaceSaysNothingWasWritten() async throws {
        try await withEtcd { etcd in
            let key = freshDiscoKey()
            let keys = EtcdClusterKeys(discoKey: key)
            let client = etcdClient(etcd.endpoints)
            let transport = HookTransport()
            let node = EtcdLogNode("1", key: key, etcd: etcd, transport: transport)
            try await node.stopping {
                try await node.log.bootstrap(voters: ["1"])
                try await waitUntil("node 1 to lead") { node.log.status.isLeader }
                // Before each append, another write to seq lands first.
                transport.setHook { request in
                    guard request.isTxn(comparing: keys.seq), let seq = try await client.get(keys.seq) else { return }
                    try await client.put(keys.seq, seq.value)
                }
                do throws(EtcdConsensusError) {
                    _ = try await node.log.propose(Array("lost".utf8))
                    Issue.record("the append succeeded")
                } catch {
                    #expect(error.code == .notWritten, "\(error.code): \(error.message)")
                }
                #expect(try await client.range(keys.logPrefix).kvs.isEmpty)
            }
        }
    }

    /// An append already sent when the engine stops is still written (the lease is revoked
    /// after). Before the fix the proposer was told "the engine stopped", which the node
    /// reports as "nothing was written: retry", so a retry wrote the entry twice.
    @Test func anEntryWrittenAsTheEngineStopsIsNotReportedAsNotWritten() async throws {
        try await withEtcd { etcd in
            let key = freshDiscoKey()
            let keys = EtcdClusterKeys(discoKey: key)
            let transport = HookTransport()
            let node = EtcdLogNode("1", key: key, etcd: etcd, transport: transport)
            try await node.stopping {
                try await node.log.bootstrap(voters: ["1"])
                try await waitUntil("node 1 to lead") { node.log.status.isLeader }
                transport.setHook { request in
                    if request.isTxn(comparing: keys.seq) { await node.runner.stop(revokeLease: false) }
                }
                do throws(EtcdConsensusError) {
                    _ = try await node.log.propose(Array("in flight".utf8))
                    Issue.record("the proposal was applied by a stopped engine")
                } catch {
                    #expect(error.code == .notApplied, "\(error.code): \(error.message)")
                }
                let written = try await etcdClient(etcd.endpoints).range(keys.logPrefix).kvs
                #expect(written.map(\.key) == [keys.log(1)], "the entry is in etcd")
            }
        }
    }

    /// A cluster deleted from etcd and bootstrapped again under the same key starts its log at 1.
    /// Before the fix a node of the old cluster kept its applied index, ignored the new log's
    /// entries (their indexes were "already applied"), and as the new cluster's leader answered
    /// proposals with indexes it had never applied.
    @Test func aNodeOfAClusterReCreatedUnderItsKeyStopsApplying() async throws {
        try await withEtcd { etcd in
            let key = freshDiscoKey()
            let keys = EtcdClusterKeys(discoKey: key)
            let client = etcdClient(etcd.endpoints)
            let node = EtcdLogNode("1", key: key, etcd: etcd)
            try await node.stopping {
                try await node.log.bootstrap(voters: ["1"])
                try await waitUntil("node 1 to lead") { node.log.status.isLeader }
                for number in 1...3 { _ = try await node.log.propose(Array("old \(number)".utf8)) }
                try await client.delete(keys.root, prefix: true)
                try await bootstrapAnotherCluster(keys: keys, client: client, voters: ["1"])
                try await waitUntil("node 1 to lead the new cluster or report the old one gone", timeout: .seconds(60)) {
                    node.log.status.isLeader || node.log.status.failure != nil
                }
                do throws(EtcdConsensusError) {
                    let index = try await node.log.propose(Array("new".utf8))
                    Issue.record("node 1 answered index \(index) of the new log, having applied only \(node.appliedIndexes)")
                } catch {}
                // The refused proposal may come before the node's watch has noticed the new cluster.
                try await waitUntil("node 1 to report the old cluster gone", timeout: .seconds(60)) { node.log.status.failure != nil }
                #expect(node.log.status.failure?.contains("re-created") == true, "\(node.log.status.failure ?? "no failure")")
            }
        }
    }

    /// The identity of the cluster under a key (the `cluster` key's create revision and id), as
    /// the engine knows it and as ``EtcdConsensusLog/readClusterMembership()`` reads it now: the
    /// bootstrapper and a node that only watches see the same one; a cluster bootstrapped again
    /// under the same key has another id; with no cluster there, none.
    @Test func theClusterIdentityTellsAClusterCreatedAgainUnderTheSameKey() async throws {
        try await withEtcd { etcd in
            let key = freshDiscoKey()
            let keys = EtcdClusterKeys(discoKey: key)
            let client = etcdClient(etcd.endpoints)
            let node = EtcdLogNode("1", key: key, etcd: etcd)
            let watcher = EtcdLogNode("2", key: key, etcd: etcd)
            try await node.stopping {
                try await watcher.stopping {
                    try await node.log.bootstrap(voters: ["1"])
                    let stored = ExternalClusterIdentity(clusterRecord: try #require(try await client.get(keys.cluster)))
                    #expect(stored.id != nil)
                    #expect(node.log.status.cluster == stored, "the bootstrapper knows what it wrote")
                    try await waitUntil("the watching node to see the cluster") { watcher.log.status.cluster == stored }
                    #expect(await node.log.readClusterMembership() == ExternalMembershipReading(cluster: stored, namesThisNode: true))
                    #expect(await watcher.log.readClusterMembership() == ExternalMembershipReading(cluster: stored, namesThisNode: false))

                    try await client.delete(keys.root, prefix: true)
                    #expect(await watcher.log.readClusterMembership() == ExternalMembershipReading(cluster: nil, namesThisNode: false))
                    try await bootstrapAnotherCluster(keys: keys, client: client, voters: ["2"])
                    let again = try #require(await watcher.log.readClusterMembership())
                    #expect(again.namesThisNode)
                    let created = try #require(again.cluster)
                    #expect(created.id != stored.id && created.revision != stored.revision, "\(created) vs \(stored)")
                }
            }
        }
    }
}
