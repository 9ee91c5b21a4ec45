import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Synchronization
@testable import DiscoEtcd

/// A transport over DiscoNet's client that fails chosen requests, as a network blip or an etcd
/// that times out would: the first `times` requests whose URL ends with `path` throw.
final class FaultyTransport: HTTPStreamExchanging {
    struct Injected: Error, CustomStringConvertible {
        var description: String { "injected: the connection was reset" }
    }

    let inner = HTTPClient()
    let path: String
    private let remaining: Mutex<Int>

    init(failing path: String, times: Int) {
        self.path = path
        remaining = Mutex(times)
    }

    /// How many failures are still to come.
    var pending: Int { remaining.withLock { $0 } }

    func exchange(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPExchangeResponse {
        try injectFault(request)
        return try await inner.exchange(request, timeout: timeout)
    }

    func openStream(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPStreamedExchangeResponse {
        try injectFault(request)
        return try await inner.openStream(request, timeout: timeout)
    }

    private func injectFault(_ request: HTTPExchangeRequest) throws {
        guard request.url.hasSuffix(path) else { return }
        let fail = remaining.withLock { left -> Bool in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
        if fail { throw Injected() }
    }
}

/// One node's etcd consensus log, run by its runner, applying into a list of entries.
final class EtcdLogNode: Sendable {
    let log: EtcdConsensusLog
    let runner: EtcdEngineRunner
    private let applied = AppliedEntries()

    /// - Parameters:
    ///   - ttl: the etcd lease's time to live. Long by default: no test here waits for a lease to
    ///     expire, and a leader stops acting as one once its renewals are late by most of the ttl,
    ///     which on a loaded machine a 5 s lease did (a leader operation then failed with "lease
    ///     passed its deadline without renewal").
    ///   - state: what the applier's snapshot returns (its state is not modelled).
    init(_ id: NodeID, key: String, etcd: EtcdFixture, transport: (any HTTPStreamExchanging)? = nil, ttl: Duration = .seconds(20),
         snapshotEvery: UInt64 = 10_000, state: [UInt8] = []) {
        var configuration = EtcdConsensusLog.Configuration(localID: id, keys: EtcdClusterKeys(discoKey: key))
        configuration.leaseTTL = ttl
        configuration.snapshotEvery = snapshotEvery
        configuration.memberRecord = Array("{\"id\":\"\(id)\"}".utf8)
        configuration.retryInterval = .milliseconds(100)
        let client = EtcdClient(gateway: EtcdGateway(endpoints: etcd.endpoints, timeout: .seconds(10), transport: transport ?? HTTPClient()))
        let applied = applied
        log = EtcdConsensusLog(configuration: configuration, client: client, applier: EtcdConsensusLog.Applier(
            apply: { index, _, _ in applied.indexes.withLock { $0.append(index) } },
            snapshot: { state }, restore: { restored in applied.restored.withLock { $0.append(restored) } }))
        runner = EtcdEngineRunner(log)
    }

    var localID: NodeID { log.localID }

    /// The indexes applied so far, in the order they were applied.
    var appliedIndexes: [UInt64] { applied.indexes.withLock { $0 } }

    /// The snapshots restored so far.
    var restored: [[UInt8]] { applied.restored.withLock { $0 } }

    func stop() async { await runner.stop(revokeLease: true) }

    /// Runs `body`, then stops the node, whether `body` returned or threw.
    func stopping(after body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await stop()
            throw error
        }
        await stop()
    }
}

/// What a node applied, shared with its applier.
final class AppliedEntries: Sendable {
    let indexes = Mutex<[UInt64]>([])
    let restored = Mutex<[[UInt8]]>([])
}

/// A fresh key for one test's cluster.
func freshDiscoKey() -> String { "disco-\(UUID().uuidString.prefix(8))" }

/// Bootstraps a cluster of `voters` under `keys` from a bare log (node "9", applying nothing), as
/// another cluster created under a key after the first one's keys were deleted.
func bootstrapAnotherCluster(keys: EtcdClusterKeys, client: EtcdClient, voters: [NodeID]) async throws {
    let other = EtcdConsensusLog(configuration: .init(localID: "9", keys: keys), client: client,
                                 applier: .init(apply: { _, _, _ in }, snapshot: { [] }, restore: { _ in }))
    try await other.bootstrap(voters: voters)
}
