import DiscoCore
import DiscoTestKit
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
            do {
                try await node.log.bootstrap(voters: ["1"])
                try await waitUntil("node 1 to lead") { node.log.status.isLeader }
                #expect(transport.pending == 0, "the member record's first write failed")
                try await waitUntil("node 1's lease-bound member record to be in etcd", timeout: .seconds(20)) {
                    node.log.status.live.contains("1")
                }
            } catch {
                await node.stop()
                throw error
            }
            await node.stop()
        }
    }
}
