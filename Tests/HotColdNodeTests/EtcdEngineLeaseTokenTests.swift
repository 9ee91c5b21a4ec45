import DiscoCore
import DiscoEtcd
import DiscoNet
import DiscoSystem
import DiscoTestKit
import Foundation
import HotCold
import LeaseCore
import Testing
@testable import NodeRuntime

/// The hot/cold lease's fencing token with `-consensus etcd`: the lease table kept exactly as a
/// node keeps it (``KeyValueLeaseTableStore``: compare-and-set on the record's revision) on etcd
/// engines over a real etcd. The token strictly increases across a crash of the etcd leader
/// and across engines started again from nothing local (their state rebuilt from etcd).
@Suite(.serialized) struct EtcdEngineLeaseTokenTests {
    static let group: LeaseGroup = "orders"

    @Test func tokensStrictlyIncreaseAcrossLeaderCrashesAndEngineRestarts() async throws {
        let etcd = try await EtcdFixture.start(members: 1)
        let key = "lease-\(UUID().uuidString.prefix(8))"
        var engines: [NodeID: EtcdConsensus] = [:]
        do {
            let ids: [NodeID] = ["1", "2", "3"]
            for id in ids { engines[id] = Self.engine(id, etcd: etcd, key: key) }
            try await engines["1"]!.bootstrap(voters: ids)
            var tokens: [UInt64] = []
            var revisions: [UInt64] = []

            func grant(to holder: NodeID) async throws {
                let leader = try await Self.leader(Array(engines.values))
                let space = EngineLeaseSpace(engine: leader)
                let name = KeyValueLeaseTableStore.leaseName(Self.group)
                let last = try space.entry(name).map { try LeaseRecord.decodeState($0.value).lastChange } ?? 0
                let store = KeyValueLeaseTableStore(node: leader.localID, space: space, logger: Logger(label: "test", level: .error, handler: LogfmtHandler(sink: MemoryLogSink())))
                let outcome = await store.propose(.grant(Self.group, to: holder, expectedLastChange: last), timeout: .seconds(30))
                guard case .applied(.granted(_, let to, let token)) = outcome else {
                    Issue.record("the grant to \(holder) was not applied: \(outcome)")
                    return
                }
                #expect(to == holder)
                tokens.append(token)
                revisions.append(try #require(space.entry(name)).revision)
            }

            try await grant(to: "1")
            try await grant(to: "2")
            // The etcd leader crashes (its lease expires in etcd); the next leader grants.
            let crashed = try await Self.leader(Array(engines.values))
            await crashed.halt()
            engines[crashed.localID] = nil
            try await grant(to: "3")
            // Every engine stops; new engines (nothing kept locally) rebuild the state from etcd.
            for engine in engines.values { await engine.shutdown(transferLeadership: false) }
            engines = [:]
            for id in ids { engines[id] = Self.engine(id, etcd: etcd, key: key) }
            try await grant(to: "1")
            try await grant(to: "2")

            #expect(tokens == [1, 2, 3, 4, 5], "one more for every grant, never reused: \(tokens)")
            #expect(zip(revisions, revisions.dropFirst()).allSatisfy { $0 < $1 }, "the record's revisions (log indexes) grow: \(revisions)")
        } catch {
            for engine in engines.values { await engine.shutdown(transferLeadership: false) }
            await etcd.stop()
            throw error
        }
        for engine in engines.values { await engine.shutdown(transferLeadership: false) }
        await etcd.stop()
    }

    static func engine(_ id: NodeID, etcd: EtcdFixture, key: String) -> EtcdConsensus {
        var configuration = EtcdConsensusLog.Configuration(localID: id, keys: EtcdClusterKeys(discoKey: key))
        configuration.leaseTTL = .seconds(2)
        configuration.retryInterval = .milliseconds(100)
        configuration.memberRecord = Array("{\"id\":\"\(id)\"}".utf8)
        let client = EtcdClient(gateway: EtcdGateway(endpoints: etcd.endpoints, timeout: .seconds(5), transport: HTTPClient()))
        let logger = Logger(label: "test", level: .error, handler: LogfmtHandler(sink: MemoryLogSink()))
        return EtcdConsensus(configuration: configuration, client: client, store: ClusterStateMachine(logger: logger))
    }

    /// The one engine that leads, once it has applied everything it knows of.
    static func leader(_ engines: [EtcdConsensus]) async throws -> EtcdConsensus {
        var found: EtcdConsensus?
        try await waitUntil("one etcd engine to lead and to have applied the log", timeout: .seconds(60)) {
            let leaders = engines.filter { $0.status.isLeader }
            guard leaders.count == 1, let leader = leaders.first, leader.status.appliedIndex >= leader.status.lastIndex else { return false }
            found = leader
            return true
        }
        return try #require(found)
    }
}

/// The lease's key-value space on one etcd engine, as the node adapts its own (namespace
/// `hot-cold`): entries from the engine's applied state, compare-and-set puts proposed as
/// key-value transactions (committed when the entry's revision is the proposal's index).
struct EngineLeaseSpace: LeaseKeyValueSpace {
    let engine: EtcdConsensus

    private func key(_ name: String) -> KVKey { KVKey("hot-cold", name) }

    func entry(_ name: String) -> LeaseKeyValueEntry? {
        engine.store.keyValue(key(name)).map { LeaseKeyValueEntry(name: name, value: $0.value, revision: $0.revision) }
    }

    func put(_ name: String, _ value: [UInt8], ifRevision expected: UInt64) async -> LeaseKeyValueWrite {
        do {
            let command = try ClusterCommand.kvTransaction(KVTransaction(conditions: [KVCondition(key(name), revision: expected)],
                                                                         operations: [.put(key(name), value)])).encode()
            let index = try await engine.propose(command)
            guard await waitUntilApplied(index, timeout: .seconds(30)) else { return .unknown("entry \(index) was not applied in time") }
            let revision = engine.store.keyValue(key(name))?.revision ?? 0
            return revision == index ? .committed(revision: index) : .conflict(found: revision)
        } catch {
            return .unavailable("\(error)")
        }
    }

    func entries(prefix: String) -> [LeaseKeyValueEntry] { [] }

    func delete(_ name: String, ifRevision expected: UInt64) async -> LeaseKeyValueWrite { .unavailable("not used by these tests") }

    func watch(prefix: String, to deliver: @escaping @Sendable (LeaseKeyValueEvent) -> Void) async {}

    func watchCluster(to deliver: @escaping @Sendable (LeaseClusterView) -> Void) async {}

    func waitUntilApplied(_ revision: UInt64, timeout: Duration) async -> Bool {
        let engine = engine
        return (try? await waitUntil("entry \(revision) applied", timeout: timeout, pollEvery: .milliseconds(5)) {
            engine.status.appliedIndex >= revision
        }) != nil
    }
}
