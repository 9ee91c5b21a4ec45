import DiscoCore
import DiscoTestKit
import Synchronization
import Testing
@testable import DiscoEtcd

/// The etcd consensus log's own bookkeeping against a real etcd, with faults injected in the
/// transport where a test needs one at a precise moment.
@Suite(.serialized) struct EtcdConsensusLogTests {
    /// The member record is written right after the lease is granted; when that write fails
    /// (a blip, etcd timing out), it must be written again under the same lease. Before the fix
    /// the retry skipped it for as long as the lease lived: the node was never "live", so a
    /// leader never saw a learner caught up and reaped it, and transfers to it were refused.
    @Test func aMemberRecordWhoseFirstWriteFailedIsWrittenAgain() async throws {
        try await withEtcd { etcd in
            let transport = FaultyTransport(failing: "/v3/kv/put", times: 1)
            let node = EtcdLogNode("1", key: freshDiscoKey(), etcd: etcd, transport: transport)
            try await node.stopping {
                try await node.log.bootstrap(voters: ["1"])
                try await waitUntil("node 1 to lead") { node.log.status.isLeader }
                #expect(transport.pending == 0, "the member record's first write failed")
                try await waitUntil("node 1's lease-bound member record to be in etcd", timeout: .seconds(60)) {
                    node.log.status.live.contains("1")
                }
            }
        }
    }

    /// A voter removed while it waits in etcd's election line must not lead when the line
    /// reaches it (with Raft, the others would not vote for it). Before the fix its election key
    /// stayed in line, so once the leader resigned the removed node led the cluster and its
    /// appends succeeded, while the remaining voter waited behind it.
    @Test func aVoterRemovedWhileWaitingInTheElectionLineNeverLeads() async throws {
        try await withEtcd { etcd in
            let key = freshDiscoKey()
            var nodes: [EtcdLogNode] = []
            do {
                let first = EtcdLogNode("1", key: key, etcd: etcd)
                nodes.append(first)
                try await first.log.bootstrap(voters: ["1"])
                try await waitUntil("node 1 to lead") { first.log.status.isLeader }
                // Nodes 2 then 3 join as voters, so 2 stands ahead of 3 in the election line.
                for id: NodeID in ["2", "3"] {
                    nodes.append(EtcdLogNode(id, key: key, etcd: etcd))
                    try await first.log.addLearner(id)
                    try await first.log.promote(id)
                    try await waitUntil("node \(id) to campaign") { first.log.state.withLock { $0.candidateRevision(of: id) != nil } }
                }
                let (removed, remaining) = (nodes[1], nodes[2])
                try await first.log.removeMember("2")
                try await waitUntil("node 2 to know it was removed") { removed.log.status.removed }
                try await first.log.resign()
                try await waitUntil("a node to lead after the leader resigned", timeout: .seconds(60)) {
                    removed.log.status.isLeader || remaining.log.status.isLeader
                }
                #expect(!removed.log.status.isLeader, "the removed node leads")
                await #expect(throws: EtcdConsensusError.self, "the removed node appends") {
                    _ = try await removed.log.propose(Array("late".utf8))
                }
                try await waitUntil("node 3 to lead", timeout: .seconds(60)) { remaining.log.status.isLeader }
            } catch {
                for node in nodes { await node.stop() }
                throw error
            }
            for node in nodes { await node.stop() }
        }
    }

    /// Concurrent proposals share one append transaction, but etcd refuses a request larger than
    /// `--max-request-bytes` (1.5 MiB by default). Before the fix eight concurrent 400 KB
    /// entries, each well within the limit, were packed into one transaction that etcd refused,
    /// so they all failed.
    @Test func concurrentLargeProposalsAreSplitIntoTransactionsEtcdAccepts() async throws {
        try await withEtcd { etcd in
            let node = EtcdLogNode("1", key: freshDiscoKey(), etcd: etcd)
            try await node.stopping {
                try await node.log.bootstrap(voters: ["1"])
                try await waitUntil("node 1 to lead") { node.log.status.isLeader }
                let entry = [UInt8](repeating: 0x61, count: 400 * 1024)
                let outcomes = await withTaskGroup(of: String?.self) { tasks in
                    for _ in 1...8 {
                        tasks.addTask {
                            do throws(EtcdConsensusError) {
                                _ = try await node.log.propose(entry)
                                return nil
                            } catch {
                                return error.message
                            }
                        }
                    }
                    return await tasks.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
                }
                #expect(outcomes.isEmpty, "\(outcomes.count) of 8 proposals failed: \(outcomes.first.map { String($0.prefix(300)) } ?? "")")
                #expect(node.appliedIndexes == Array(1...8))
            }
        }
    }

    /// A state larger than etcd's request limit (the default event retention keeps far more than
    /// 1.5 MiB) must still be snapshotted, or the log keys are never trimmed and etcd fills up.
    /// Before the fix the snapshot put was refused every time, the log kept growing, and each
    /// refusal made the leader re-read the whole prefix.
    @Test func aStateLargerThanEtcdsRequestLimitIsSnapshottedAndRestored() async throws {
        try await withEtcd { etcd in
            let key = freshDiscoKey()
            let state = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 13) }
            let leader = EtcdLogNode("1", key: key, etcd: etcd, snapshotEvery: 10, state: state)
            try await leader.stopping {
                try await leader.log.bootstrap(voters: ["1"])
                try await waitUntil("node 1 to lead") { leader.log.status.isLeader }
                for number in 1...12 { _ = try await leader.log.propose(Array("entry \(number)".utf8)) }
                let keys = EtcdClusterKeys(discoKey: key)
                let client = etcdClient(etcd.endpoints)
                try await waitUntil("the snapshot at index 10 to replace the log keys before it", timeout: .seconds(60), retryingErrors: true) {
                    try await client.range(keys.logPrefix).kvs.first.flatMap { keys.logIndex($0.key) } == 11
                }
                let joiner = EtcdLogNode("2", key: key, etcd: etcd, snapshotEvery: 10)
                try await joiner.stopping {
                    try await leader.log.addLearner("2")
                    try await waitUntil("the new node to restore the snapshot and apply the rest") { joiner.appliedIndexes == [11, 12] }
                    #expect(joiner.restored == [state], "the restored state is the leader's, byte for byte")
                }
            }
        }
    }
}
