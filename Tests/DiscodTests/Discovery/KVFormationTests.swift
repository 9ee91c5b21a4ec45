import DiscoCore
import DiscoEtcd
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

/// `-disco-mode etcd-kv` through a real etcd and `-disco-mode consul-kv` through the Consul double
/// (and a real agent when `CONSUL_HTTP_ADDR` is set): the first node creates the leader record
/// and bootstraps alone, the others join it; the record names the leader and follows leadership.
@Suite(.serialized) struct KVFormationTests {
    static let createdRecord = "formation: created the leader record"
    static let joined = "formation: joined cluster"

    // MARK: etcd-kv

    @Test func etcdKVFormsOneClusterAndTheNewLeaderRewritesTheRecord() async throws {
        try await Self.withEtcd { etcd, config in
            try await Self.formThenFailOver(mode: "etcd-kv", config: config, store: .etcd(endpoint: etcd.endpoints[0]))
        }
    }

    @Test func fourthNodeStartedLaterJoinsThroughTheEtcdRecord() async throws {
        try await Self.withEtcd { etcd, config in
            let store = KVLeaderRecordReader.etcd(endpoint: etcd.endpoints[0])
            let key = Self.freshKey()
            try await DiscodCluster.with("etcd-kv-late") { cluster in
                let ports = try DiscodCluster.ports(count: 4)
                let flags = ["-disco-mode", "etcd-kv", "-disco-key", key, "-disco-config", config]
                var nodes = try (1...3).map { try cluster.start(id: "\($0)", ports: ports[$0 - 1], flags: flags) }
                let leader = try await FormationChecks.waitForOneCluster(nodes)
                try await Self.waitForRecord(store, key: key, naming: leader)
                let late = try cluster.start(id: "4", ports: ports[3], flags: flags)
                nodes.append(late)
                let leaderAfter = try await FormationChecks.waitForOneCluster(nodes)
                #expect(late.process.output.contains(Self.joined), "node 4 joins the existing cluster:\n\(late.process.output.suffix(3000))")
                #expect(!late.process.output.contains(Self.createdRecord))
                #expect(FormationChecks.count(nodes, logging: Self.createdRecord) == 1)
                try await Self.waitForRecord(store, key: key, naming: leaderAfter)
            }
        }
    }

    /// A leader record left behind by a cluster that is gone: its leader died and the record's
    /// lease has not run out yet, so it names an address where nobody answers. A new node's joins
    /// fail (here faster than the lease lasts, with short -join-attempts); it must read the
    /// record again, and once the record has expired create it and bootstrap, not give up.
    @Test func aNewNodeOutlastsAStaleRecordAndThenBootstraps() async throws {
        try await Self.withEtcd { etcd, config in
            let store = KVLeaderRecordReader.etcd(endpoint: etcd.endpoints[0])
            let key = Self.freshKey()
            let client = HTTPClient()
            let gone = try FreePort.loopback()
            let stale = EtcdLeaderRegistry(gateway: EtcdGateway(endpoints: etcd.endpoints, transport: client), discoKey: key, ttl: .seconds(4))
            _ = try await stale.createIfAbsent(LeaderRecord(id: "old", apiAddr: "http://127.0.0.1:\(gone)", addr: "127.0.0.1:\(gone)"))
            await client.shutdown()
            try await DiscodCluster.with("etcd-kv-stale") { cluster in
                let node = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: [
                    "-disco-mode", "etcd-kv", "-disco-key", key, "-disco-config", config, "-join-attempts", "2", "-join-interval", "200ms",
                ])
                try await FormationChecks.waitForOneCluster([node], timeout: .seconds(60))
                #expect(node.process.output.contains(Self.createdRecord), "\(node.process.output.suffix(3000))")
                try await Self.waitForRecord(store, key: key, naming: node)
            }
        }
    }

    /// The leader is killed, loses its data directory and comes back before the rest of its
    /// cluster has replaced its leader record: the record names the node itself. The node must
    /// not bootstrap a cluster of its own beside the one that lives on (whose new leader would
    /// then fight it for the record); it waits until the new leader replaces the record and
    /// joins it. The survivors are held stopped (SIGSTOP) until the restarted node has read the
    /// record, and the record is rewritten under a long lease, so the order is certain.
    @Test func aLeaderRestartedWithoutDataWhileItsRecordStandsJoinsItsClusterAgain() async throws {
        try await Self.withEtcd { etcd, config in
            let store = KVLeaderRecordReader.etcd(endpoint: etcd.endpoints[0])
            let key = Self.freshKey()
            try await DiscodCluster.with("etcd-kv-own-record") { cluster in
                let ports = try DiscodCluster.ports(count: 3)
                let flags = ["-disco-mode", "etcd-kv", "-disco-key", key, "-disco-config", config]
                let nodes = try (1...3).map { try cluster.start(id: "\($0)", ports: ports[$0 - 1], flags: flags) }
                let leader = try await FormationChecks.waitForOneCluster(nodes)
                try await Self.waitForRecord(store, key: key, naming: leader)
                let survivors = nodes.filter { $0.nodeID != leader.nodeID }

                survivors.forEach { $0.process.send(SIGSTOP) }
                defer { survivors.forEach { $0.process.send(SIGCONT) } }
                await leader.kill()
                try FileManager.default.removeItem(atPath: leader.dataDirectory)
                // The record as the dead process left it, under a lease that outlasts the test's steps.
                let client = HTTPClient()
                let held = EtcdLeaderRegistry(gateway: EtcdGateway(endpoints: etcd.endpoints, transport: client), discoKey: key, ttl: .seconds(120))
                let own = LeaderRecord(id: leader.nodeID, apiAddr: leader.apiURL, addr: leader.raftAddress)
                let current = try #require(try await held.read())
                #expect(current.record == own)
                _ = try #require(try await held.update(own, expectedVersion: current.version))

                let restarted = try cluster.restart(leader)
                try await waitUntil("the restarted node to read its own leader record", timeout: .seconds(60), pollEvery: .milliseconds(100)) {
                    try FormationChecks.throwIfExited([restarted])
                    return restarted.process.output.contains("already names this node")
                }
                survivors.forEach { $0.process.send(SIGCONT) }
                let newLeader = try await FormationChecks.waitForOneCluster(survivors + [restarted])
                #expect(!restarted.process.output.contains(Self.createdRecord), "\(restarted.process.output.suffix(3000))")
                try await Self.waitForRecord(store, key: key, naming: newLeader)
                try? await held.release()
                await client.shutdown()
            }
        }
    }

    /// A node alone, restarted without data while its record from the earlier run stands (no
    /// cluster is left to replace it): it waits for the record to expire, then creates it and
    /// bootstraps.
    @Test func aNodeAloneOutlastsItsOwnStaleRecordAndThenBootstraps() async throws {
        try await Self.withEtcd { etcd, config in
            let store = KVLeaderRecordReader.etcd(endpoint: etcd.endpoints[0])
            let key = Self.freshKey()
            let client = HTTPClient()
            let ports = try DiscodCluster.ports()
            let earlier = EtcdLeaderRegistry(gateway: EtcdGateway(endpoints: etcd.endpoints, transport: client), discoKey: key, ttl: .seconds(3))
            _ = try await earlier.createIfAbsent(LeaderRecord(id: "1", apiAddr: "http://127.0.0.1:\(ports.http)", addr: "127.0.0.1:\(ports.raft)"))
            await client.shutdown()
            try await DiscodCluster.with("etcd-kv-own-stale") { cluster in
                let node = try cluster.start(id: "1", ports: ports, flags: ["-disco-mode", "etcd-kv", "-disco-key", key, "-disco-config", config])
                try await FormationChecks.waitForOneCluster([node], timeout: .seconds(60))
                #expect(node.process.output.contains("already names this node"), "\(node.process.output.suffix(3000))")
                #expect(node.process.output.contains(Self.createdRecord), "\(node.process.output.suffix(3000))")
                try await Self.waitForRecord(store, key: key, naming: node)
            }
        }
    }

    // MARK: consul-kv

    @Test func consulKVThroughTheDoubleFormsOneClusterAndTheNewLeaderRewritesTheRecord() async throws {
        let server = try await ConsulKVServer.start()
        do {
            try await Self.formThenFailOver(mode: "consul-kv", config: #"{"address":"\#(server.address)"}"#,
                                            store: .consul(address: server.address, token: nil))
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// The same against a real Consul agent, when `CONSUL_HTTP_ADDR` (and optionally
    /// `CONSUL_HTTP_TOKEN`) name one; the keys live under a fresh prefix and are deleted after.
    @Test(.enabled(if: Self.consulAgentAddress != nil, "CONSUL_HTTP_ADDR names no Consul agent"))
    func consulKVThroughARealAgentFormsOneClusterAndTheNewLeaderRewritesTheRecord() async throws {
        let address = try #require(Self.consulAgentAddress)
        let token = ProcessInfo.processInfo.environment["CONSUL_HTTP_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        var config = JSONObject()
        config["address"] = .string(address)
        if let token { config["token"] = .string(token) }
        try await Self.formThenFailOver(mode: "consul-kv", config: JSONValue.object(config).encoded(),
                                        store: .consul(address: address, token: token))
    }

    static var consulAgentAddress: String? {
        guard let value = ProcessInfo.processInfo.environment["CONSUL_HTTP_ADDR"], !value.isEmpty else { return nil }
        return value.replacingOccurrences(of: "http://", with: "")
    }

    // MARK: The scenario

    /// Three nodes started at once form one cluster; exactly one created the record and the other
    /// two joined; the record names the leader; after `kill -9` of the leader, the new leader
    /// rewrites it.
    static func formThenFailOver(mode: String, config: String, store: KVLeaderRecordReader) async throws {
        let key = freshKey()
        do {
            try await formThenFailOver(mode: mode, config: config, store: store, key: key)
        } catch {
            await store.deleteAll(discoKey: key)
            throw error
        }
        await store.deleteAll(discoKey: key)
    }

    static func formThenFailOver(mode: String, config: String, store: KVLeaderRecordReader, key: String) async throws {
        try await DiscodCluster.with(mode) { cluster in
            let ports = try DiscodCluster.ports(count: 3)
            let flags = ["-disco-mode", mode, "-disco-key", key, "-disco-config", config]
            let nodes = try (1...3).map { try cluster.start(id: "\($0)", ports: ports[$0 - 1], flags: flags) }
            let leader = try await FormationChecks.waitForOneCluster(nodes)
            #expect(FormationChecks.count(nodes, logging: createdRecord) == 1,
                    "exactly one node creates the record:\n\(nodes.map { "--- \($0.nodeID):\n\($0.process.output.suffix(2000))" }.joined())")
            #expect(FormationChecks.count(nodes, logging: joined) == 2, "the other two join")
            try await waitForRecord(store, key: key, naming: leader)

            await leader.kill()
            let survivors = nodes.filter { $0.nodeID != leader.nodeID }
            let newLeader = try await FormationChecks.waitForNewLeader(among: survivors)
            try await waitForRecord(store, key: key, naming: newLeader)
        }
    }

    // MARK: Support

    /// A disco key no other run uses.
    static func freshKey() -> String { "disco-test-\(UInt32.random(in: 0...UInt32.max))" }

    /// Polls the store until the record at the key is exactly `node`'s `{"id","api_addr","addr"}`.
    static func waitForRecord(_ store: KVLeaderRecordReader, key: String, naming node: DiscodProcess) async throws {
        var seen: JSONValue?
        var readError = ""
        do {
            try await waitUntil("the record at \(store.key(key)) to name node \(node.nodeID)", timeout: .seconds(60),
                                pollEvery: .milliseconds(200)) {
                // A read that fails (the store busy for a moment) is a miss to retry.
                do {
                    seen = try await store.read(discoKey: key)
                    readError = ""
                } catch {
                    readError = " (last read failed: \(error))"
                    return false
                }
                return seen?.textMembers == node.expectedLeaderRecord
            }
        } catch let timeout as WaitTimeout {
            throw FormationFailure(description: "\(timeout); last seen \(seen?.encoded() ?? "no record")\(readError), "
                + "expected \(node.expectedLeaderRecord)\n--- node \(node.nodeID):\n\(node.process.output.suffix(4000))")
        }
    }

    /// Runs `body` with a fresh one-member etcd and the disco-config naming it.
    static func withEtcd(_ body: (EtcdFixture, String) async throws -> Void) async throws {
        let etcd = try await EtcdFixture.start()
        let endpoint = "127.0.0.1:\(etcd.members[0].clientPort)"
        do {
            try await body(etcd, #"{"endpoints":["\#(endpoint)"]}"#)
        } catch {
            await etcd.stop()
            throw error
        }
        await etcd.stop()
    }
}
