import DiscoCore
import DiscoEtcd
import DiscoNet
import DiscoRaft
import DiscoTestKit
import Foundation
import Testing
@testable import NodeRuntime

/// Several in-process nodes' consensus engines on one real etcd, each applying to its own store.
struct EtcdEngineGroup {
    let etcd: EtcdFixture
    let key: String
    var engines: [NodeID: EtcdConsensus] = [:]

    init(etcd: EtcdFixture, key: String = "disco-\(UUID().uuidString.prefix(8))") {
        self.etcd = etcd
        self.key = key
    }

    /// Starts an engine for `id` whose client reaches `endpoints` (all members by default).
    @discardableResult
    mutating func start(_ id: NodeID, endpoints: [String]? = nil, ttl: Duration = .seconds(5),
                        snapshotEvery: UInt64 = 10_000) -> EtcdConsensus {
        var configuration = EtcdConsensusLog.Configuration(localID: id, keys: EtcdClusterKeys(discoKey: key))
        configuration.leaseTTL = ttl
        configuration.snapshotEvery = snapshotEvery
        configuration.memberRecord = Array("{\"id\":\"\(id)\"}".utf8)
        configuration.retryInterval = .milliseconds(100)
        let client = EtcdClient(gateway: EtcdGateway(endpoints: endpoints ?? etcd.endpoints, timeout: .seconds(5), transport: HTTPClient()))
        let engine = EtcdConsensus(configuration: configuration, client: client, store: ClusterStateMachine(logger: memoryLogger()))
        engines[id] = engine
        return engine
    }

    /// The one engine that reports itself leader, once exactly one does (and the others agree).
    func leader(among ids: [NodeID]? = nil, timeout: Duration = .seconds(60)) async throws -> EtcdConsensus {
        let candidates = (ids ?? Array(engines.keys)).compactMap { engines[$0] }
        var found: EtcdConsensus?
        try await waitUntil("one leader that every engine names", timeout: timeout) {
            let leaders = candidates.filter { $0.status.isLeader }
            guard leaders.count == 1, let leader = leaders.first else { return false }
            guard candidates.allSatisfy({ $0.status.leader == leader.localID }) else { return false }
            found = leader
            return true
        }
        return try #require(found)
    }

    func stopAll() async {
        for engine in engines.values { await engine.shutdown(transferLeadership: false) }
    }

    /// An event append command.
    static func event(_ number: Int) throws -> [UInt8] {
        try ClusterCommand.appendEvent(timeMillis: 1_000 + Int64(number), data: Array("{\"n\":\(number)}".utf8)).encode()
    }
}

/// Runs `body` with a fresh etcd and an engine group, stopping both whatever happens.
func withEtcdEngines(members: Int = 1, _ body: (inout EtcdEngineGroup) async throws -> Void) async throws {
    let etcd = try await EtcdFixture.start(members: members)
    var group = EtcdEngineGroup(etcd: etcd)
    do {
        try await body(&group)
    } catch {
        await group.stopAll()
        await etcd.stop()
        throw error
    }
    await group.stopAll()
    await etcd.stop()
}
