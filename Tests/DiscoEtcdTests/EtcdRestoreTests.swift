import DiscoCore
import DiscoTestKit
import Foundation
import Synchronization
import Testing
@testable import DiscoEtcd

/// A node that catches up from etcd's snapshot rather than from the log.
@Suite(.serialized) struct EtcdRestoreTests {
    /// A proposal waits until its entry is applied here. When the node catches up by restoring
    /// a snapshot that covers the entry (its watch broke, and meanwhile another leader wrote a
    /// snapshot past it and trimmed the log), the entry counts as applied. Before the fix the
    /// restore moved the applied index past the entry without releasing the proposal, which
    /// hung until some later entry was applied.
    @Test func aProposalWhoseEntryARestoredSnapshotCoversReturns() async throws {
        try await withEtcd { etcd in
            let key = freshDiscoKey()
            let keys = EtcdClusterKeys(discoKey: key)
            let client = etcdClient(etcd.endpoints)
            let transport = HookTransport()
            let first = EtcdLogNode("1", key: key, etcd: etcd, transport: transport, snapshotEvery: 2, state: Array("state".utf8))
            try await first.stopping {
                try await first.log.bootstrap(voters: ["1"])
                try await waitUntil("node 1 to lead") { first.log.status.isLeader }
                _ = try await first.log.propose(Array("entry 1".utf8))
                let second = EtcdLogNode("2", key: key, etcd: etcd, snapshotEvery: 2, state: Array("state".utf8))
                try await second.stopping {
                    try await first.log.addLearner("2")
                    try await first.log.promote("2")
                    try await waitUntil("node 2 to campaign") { first.log.state.withLock { $0.candidateRevision(of: "2") != nil } }

                    // etcd restarts; node 1 cannot read the state again until the gate opens.
                    let gate = Gate()
                    let rootKey = EtcdGateway.base64(keys.root)
                    transport.setHook { request in
                        guard request.url.hasSuffix("/v3/kv/range"),
                              let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any],
                              object["key"] as? String == rootKey else { return }
                        await gate.wait()
                    }
                    await etcd.stopMember(0)
                    try await etcd.restartMember(0)
                    try await waitUntil("node 1 to lead after etcd's restart", timeout: .seconds(60)) { first.log.status.isLeader }

                    let answered = Mutex<Result<UInt64, EtcdConsensusError>?>(nil)
                    let proposal = Task {
                        do throws(EtcdConsensusError) {
                            let index = try await first.log.propose(Array("entry 2".utf8))
                            answered.withLock { $0 = .success(index) }
                        } catch {
                            answered.withLock { $0 = .failure(error) }
                        }
                    }
                    try await waitUntil("entry 2 to be in etcd", retryingErrors: true) { try await client.get(keys.log(2)) != nil }
                    // Node 2 leads and snapshots past entry 2, trimming the log.
                    try await first.log.resign()
                    try await waitUntil("node 2 to lead", timeout: .seconds(60)) { second.log.status.isLeader }
                    for number in 3...4 { _ = try await second.log.propose(Array("entry \(number)".utf8)) }
                    try await waitUntil("the snapshot at 4 to replace the log", retryingErrors: true) { try await client.range(keys.logPrefix).kvs.isEmpty }

                    gate.release()
                    try await waitUntil("node 1 to restore the snapshot", timeout: .seconds(60)) { first.log.status.appliedIndex == 4 }
                    try await waitUntil("node 1's proposal to be answered", timeout: .seconds(60)) { answered.withLock { $0 != nil } }
                    #expect(try answered.withLock { $0 }?.get() == 2)
                    await proposal.value
                }
            }
        }
    }
}
