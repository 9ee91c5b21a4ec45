import DiscoCore
import DiscoEtcd
import DiscoNet
import DiscoTestKit
import Testing

// MARK: - Checks that depend on the engine

extension NodeTests {
    /// With the etcd engine: etcd holds the cluster (its `cluster`, `config` and `seq` keys and
    /// log entries, and a lease-bound record per live node), so the test proves the nodes did
    /// not fall back to Raft. Nothing to check with Raft.
    static func expectStateInEtcd(_ cluster: DiscodCluster, events: Int) async throws {
        guard cluster.engine == .etcd, let etcd = cluster.etcd else { return }
        let client = EtcdClient(gateway: EtcdGateway(endpoints: etcd.endpoints, transport: HTTPClient()))
        let all = try await client.range("/", prefix: true)
        let keys = all.kvs.map(\.key)
        let root = try #require(keys.first { $0.hasSuffix("/cluster") }.map { String($0.dropLast("cluster".count)) },
                                "etcd holds no cluster key: \(keys)")
        let layout = EtcdClusterKeys(discoKey: String(root.dropFirst().dropLast()))
        #expect(keys.contains(layout.config) && keys.contains(layout.seq))
        #expect(keys.filter { layout.logIndex($0) != nil }.count >= events, "the log lives in etcd: \(keys)")
        #expect(keys.contains { layout.memberID($0) != nil } && all.kvs.filter { layout.memberID($0.key) != nil }.allSatisfy { $0.lease != 0 },
                "member records are attached to leases")
    }
}
