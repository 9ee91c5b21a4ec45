import DiscoCore
import DiscoEtcd
import DiscoRaft

// MARK: - EtcdConsensus

/// ``ConsensusEngine`` backed by etcd (`-consensus etcd`): the log, the leader and the voting
/// configuration live in etcd under `/<disco-key>/` (``EtcdConsensusLog``), and every node
/// applies the log to its own ``ClusterStateMachine``, so the store, the API and every response
/// shape are those of the embedded Raft engine.
public final class EtcdConsensus: ConsensusEngine {
    public let log: EtcdConsensusLog
    public let store: ClusterStateMachine
    private let runner: EtcdEngineRunner

    /// Starts following etcd and campaigning (as a voter) at once.
    public init(configuration: EtcdConsensusLog.Configuration, client: EtcdClient, store: ClusterStateMachine) {
        self.store = store
        log = EtcdConsensusLog(configuration: configuration, client: client, applier: EtcdConsensusLog.Applier(
            apply: { index, revision, data in store.apply(Entry(term: UInt64(max(0, revision)), index: index, data: data)) },
            snapshot: { store.takeSnapshot() },
            restore: { try store.restore(from: $0) }))
        runner = EtcdEngineRunner(log)
    }

    public var localID: NodeID { log.localID }

    /// Not tracked: the node follows etcd through a watch, with no leader of its own to hear from.
    public var leaderContact: LeaderContact { .notTracked }

    public var status: ConsensusStatus {
        let etcd = log.status
        let isMember = etcd.config.members.contains(localID)
        var peers: [NodeID: PeerReplication] = [:]
        if etcd.isLeader {
            // etcd holds the whole log: a member is caught up whenever its lease-bound record lives.
            for id in etcd.config.members where id != localID {
                let live = etcd.live.contains(id)
                peers[id] = PeerReplication(matchIndex: live ? etcd.lastIndex : 0, recentlyActive: live, caughtUp: live)
            }
        }
        return ConsensusStatus(
            role: etcd.isLeader ? .leader : .follower, term: UInt64(max(0, etcd.term)), leader: etcd.leader,
            commitIndex: etcd.lastIndex, appliedIndex: etcd.appliedIndex, lastIndex: etcd.lastIndex,
            voters: etcd.config.voters, learners: etcd.config.learners, hasState: etcd.initialized && isMember,
            stateKnown: etcd.synced, isStopped: etcd.isStopped, failure: etcd.failure, peers: peers,
            removal: etcd.removed ? RemovalNotice(reportedBy: etcd.removedBy, configIndex: etcd.appliedIndex) : nil)
    }

    public var externalState: ExternalStateStatus? {
        let etcd = log.status
        return ExternalStateStatus(system: "etcd", endpoints: log.client.gateway.endpoints, key: log.configuration.keys.root,
                                   lastError: etcd.lastError, failedReads: etcd.failedReads, cluster: etcd.cluster)
    }

    public func readExternalMembership() async -> Bool? { await log.readMembership() }

    public func readExternalCluster() async -> ExternalMembershipReading? { await log.readClusterMembership() }

    public func bootstrap(voters: [NodeID]) async throws {
        try await mapping { () async throws(EtcdConsensusError) in try await log.bootstrap(voters: voters) }
    }

    /// Until the engine has read etcd, whether this node has state is unknown: a proposer that
    /// bootstrapped would form again (and disown its proposal), so this waits for that read (on
    /// a first start the node has already waited for it, within `-bootstrap-expect-timeout`,
    /// before it calls this). A member started again may look before its watch delivered the
    /// cluster it belongs to: when etcd's configuration names this node, waits for the watch to
    /// deliver it.
    public func settleExistingState(within timeout: Duration) async {
        while !status.stateKnown, !status.isStopped, status.failure == nil, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
        }
        guard !status.hasState, await log.isMemberOfExistingCluster() else { return }
        let deadline = ContinuousClock.now + timeout
        while !status.hasState, !status.isStopped, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    public func propose(_ data: [UInt8]) async throws -> UInt64 {
        try await mapping { () async throws(EtcdConsensusError) in try await log.propose(data) }
    }

    public func addLearner(_ id: NodeID) async throws {
        try await mapping { () async throws(EtcdConsensusError) in try await log.addLearner(id) }
    }

    public func promote(_ id: NodeID) async throws {
        try await mapping { () async throws(EtcdConsensusError) in try await log.promote(id) }
    }

    public func removeMember(_ id: NodeID) async throws {
        try await mapping { () async throws(EtcdConsensusError) in try await log.removeMember(id) }
    }

    /// The index of the log's last entry in etcd, read from etcd now (``EtcdConsensusLog/readLastIndex()``):
    /// what this node's watch has delivered may lag behind it.
    public func catchUpTarget() async throws -> UInt64 {
        try await mapping { () async throws(EtcdConsensusError) in try await log.readLastIndex() }
    }

    /// Hands leadership on and returns the new leader. Without a target the leader resigns and
    /// the next candidate in etcd's election line leads; with one (a live voter), the candidates
    /// ahead of it re-enter behind it first (``EtcdConsensusLog/transferLeadership(to:within:)``).
    public func transferLeadership(to target: NodeID?) async throws -> NodeID {
        guard log.status.isLeader else { throw ConsensusError(.notLeader, "not the leader", leader: log.status.leader) }
        if target == localID { return localID }
        let limit = log.configuration.leaseTTL * 2
        if let target {
            try await mapping { () async throws(EtcdConsensusError) in try await log.transferLeadership(to: target, within: limit) }
        } else {
            try await mapping { () async throws(EtcdConsensusError) in try await log.resign() }
        }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let leader = log.status.leader, leader != localID || log.status.isLeader {
                if let target, leader != target {
                    throw ConsensusError(.unknown, "leadership went to \(leader), not \(target) (\(target)'s etcd lease ended during the transfer?)", leader: leader)
                }
                return leader
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ConsensusError(.unknown, "no new leader appeared in etcd within \(limit)")
    }

    public func leadershipChanges() -> AsyncStream<ConsensusLeadership> {
        log.leadershipChanges { ConsensusLeadership(term: UInt64(max(0, $0.term)), leader: $0.leader, isLocal: $0.isLocal) }
    }

    /// Stops following etcd and revokes this node's lease, so its member record and election
    /// key disappear and the next candidate leads at once.
    public func shutdown(transferLeadership: Bool) async {
        await runner.stop(revokeLease: true)
    }

    /// Stops without revoking the lease, as a crash would: the others wait for etcd to expire it.
    public func halt() async {
        await runner.stop(revokeLease: false)
    }

    /// Runs an engine request, translating its errors into ``ConsensusError``.
    private func mapping<T>(_ body: () async throws(EtcdConsensusError) -> T) async throws(ConsensusError) -> T {
        do throws(EtcdConsensusError) {
            return try await body()
        } catch {
            let code: ConsensusError.Code = switch error.code {
            case .notLeader: .notLeader
            case .etcdUnavailable: .unknown
            case .invalid: .invalid
            case .stopped: .stopped
            case .notWritten: .notCommitted
            case .notApplied: .unknown
            case .failed: .failed
            }
            throw ConsensusError(code, error.message, leader: error.leader)
        }
    }
}
