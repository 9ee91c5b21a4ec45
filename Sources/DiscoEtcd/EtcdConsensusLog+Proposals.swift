import DiscoCore
import Foundation
import Synchronization

// MARK: - Errors

/// Why a request to the etcd engine failed, in the terms the node maps to HTTP statuses.
public struct EtcdConsensusError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// This node does not lead (HTTP 307/503); `leader` names who does when known.
        case notLeader
        /// etcd could not be reached or did not answer; the write may or may not have been made (HTTP 503).
        case etcdUnavailable
        /// The request cannot succeed as given.
        case invalid
        /// The engine stopped; nothing was written.
        case stopped
        /// etcd definitely wrote nothing (a compare failed): retrying cannot duplicate it (HTTP 503).
        case notWritten
        /// The entry is in etcd, but the engine stopped before applying it here (HTTP 503).
        case notApplied
        /// etcd refused or answered something unexpected.
        case failed
    }

    public let code: Code
    public let message: String
    public let leader: NodeID?

    public init(_ code: Code, _ message: String, leader: NodeID? = nil) {
        self.code = code
        self.message = message
        self.leader = leader
    }

    public var description: String { message }
}

// MARK: - Proposal queue

/// Proposals waiting to be written; the proposer that finds nobody writing writes every queued
/// proposal (its own and others') in as few transactions as possible.
struct ProposalQueue {
    var waiting: [(id: UInt64, data: [UInt8])] = []
    var results: [UInt64: Result<UInt64, EtcdConsensusError>] = [:]
    var continuations: [UInt64: CheckedContinuation<Result<UInt64, EtcdConsensusError>, Never>] = [:]
    var nextID: UInt64 = 0
    var writing = false
}

extension EtcdConsensusLog {
    // MARK: Proposing

    /// Appends `data` to the log; returns its index once the entry is in etcd and applied here.
    public func propose(_ data: [UInt8]) async throws(EtcdConsensusError) -> UInt64 {
        try checkLeader()
        let (id, writer) = state.withLock { state -> (UInt64, Bool) in
            state.proposals.nextID += 1
            state.proposals.waiting.append((state.proposals.nextID, data))
            let writer = !state.proposals.writing
            state.proposals.writing = true
            return (state.proposals.nextID, writer)
        }
        if writer { await writeQueued() }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<UInt64, EtcdConsensusError>, Never>) in
            let ready = state.withLock { state -> Result<UInt64, EtcdConsensusError>? in
                if let result = state.proposals.results.removeValue(forKey: id) { return result }
                state.proposals.continuations[id] = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
        let index = try result.get()
        await waitForApplied(index)
        // Written, so not "stopped" (which says nothing was): the entry stays in the log.
        guard status.appliedIndex >= index else {
            throw EtcdConsensusError(.notApplied, "entry \(index) is in etcd, but the etcd engine stopped before applying it here")
        }
        return index
    }

    /// Writes queued proposals until the queue is empty, then hands the writer's role back.
    func writeQueued() async {
        while true {
            let batch = state.withLock { state -> [(id: UInt64, data: [UInt8])] in
                // At most maxBatch entries and maxBatchBytes of data (one entry always goes).
                var bytes = 0
                let count = state.proposals.waiting.prefix(configuration.maxBatch).prefix { proposal in
                    defer { bytes += proposal.data.count }
                    return bytes == 0 || bytes + proposal.data.count <= configuration.maxBatchBytes
                }.count
                let batch = Array(state.proposals.waiting.prefix(count))
                state.proposals.waiting.removeFirst(batch.count)
                if batch.isEmpty { state.proposals.writing = false }
                return batch
            }
            if batch.isEmpty { return }
            let outcome = await append(batch.map(\.data))
            let resumed = state.withLock { state -> [(CheckedContinuation<Result<UInt64, EtcdConsensusError>, Never>, Result<UInt64, EtcdConsensusError>)] in
                var resumed: [(CheckedContinuation<Result<UInt64, EtcdConsensusError>, Never>, Result<UInt64, EtcdConsensusError>)] = []
                for (offset, proposal) in batch.enumerated() {
                    let result = outcome.map { $0 + UInt64(offset) }
                    if let continuation = state.proposals.continuations.removeValue(forKey: proposal.id) {
                        resumed.append((continuation, result))
                    } else {
                        state.proposals.results[proposal.id] = result
                    }
                }
                return resumed
            }
            for (continuation, result) in resumed { continuation.resume(returning: result) }
        }
    }

    /// One fenced append transaction for `entries`; returns the first entry's index.
    func append(_ entries: [[UInt8]]) async -> Result<UInt64, EtcdConsensusError> {
        for _ in 0..<3 {
            // Queued before the engine stopped: not written now, so "stopped" stays true.
            if state.withLock({ $0.stopped }) { return .failure(EtcdConsensusError(.stopped, "the etcd engine has stopped")) }
            let (leadership, cluster, seqMod, last) = state.withLock { ($0.leadership, $0.clusterRevision, $0.seqModRevision, $0.lastIndex) }
            guard let leadership, keeper.leaseID == leadership.lease else { return .failure(notLeaderError()) }
            guard let cluster else {
                if await readClusterRevision() { continue }
                return .failure(EtcdConsensusError(.invalid, "etcd holds no cluster under \(keys.root)"))
            }
            var puts: [EtcdOp] = [.put(key: keys.seq, value: Array(String(last + UInt64(entries.count)).utf8))]
            for (offset, data) in entries.enumerated() { puts.append(.put(key: keys.log(last + 1 + UInt64(offset)), value: data)) }
            let txn = EtcdTxn(compare: [EtcdCompare(keys.seq, .modRevision(seqMod)), leadership.fence, EtcdCompare(keys.cluster, .createRevision(cluster))],
                              success: puts, failure: [.get(key: keys.seq), .get(key: leadership.key), .get(key: keys.cluster)])
            let result: EtcdTxnResult
            do throws(EtcdError) {
                result = try await client.txn(txn, operation: "append \(entries.count) entries at \(keys.log(last + 1))")
            } catch {
                noteError(error)
                return .failure(EtcdConsensusError(.etcdUnavailable, "etcd did not confirm the append: \(error)"))
            }
            noteSuccess()
            if result.succeeded {
                state.withLock { state in
                    if state.lastIndex < last + UInt64(entries.count) {
                        state.lastIndex = last + UInt64(entries.count)
                        state.seqModRevision = result.revision
                    }
                }
                return .success(last + 1)
            }
            // Which compare failed: the fence, the epoch, or only our view of seq.
            guard result.results.count == 3, case .get(let seq) = result.results[0], case .get(let mine) = result.results[1],
                  case .get(let clusterKey) = result.results[2] else {
                return .failure(EtcdConsensusError(.failed, "etcd answered the append's failure branch unexpectedly: \(result.results)"))
            }
            if mine.first?.createRevision != leadership.revision {
                state.withLock { if $0.leadership == leadership { $0.leadership = nil } }
                return .failure(notLeaderError())
            }
            if clusterKey.first?.createRevision != cluster {
                return .failure(EtcdConsensusError(.failed, "the cluster under \(keys.root) in etcd was re-created (epoch revision \(cluster) is gone)"))
            }
            state.withLock { state in
                state.seqModRevision = seq.first?.modRevision ?? 0
                state.lastIndex = seq.first.flatMap { UInt64($0.text) } ?? 0
            }
        }
        // Every attempt's compare failed: etcd wrote none of them.
        return .failure(EtcdConsensusError(.notWritten, "etcd: the append lost three races for \(keys.seq) and was not written"))
    }

    // MARK: Bootstrap and membership

    /// Creates the cluster in etcd with exactly these voters; refused when etcd already holds one.
    public func bootstrap(voters: [NodeID]) async throws(EtcdConsensusError) {
        guard !voters.isEmpty else { throw EtcdConsensusError(.invalid, "a cluster needs at least one voter") }
        let id = UUID().uuidString
        let identity = Array("{\"created_by\":\"\(localID.rawValue)\",\"id\":\"\(id)\"}".utf8)
        let txn = EtcdTxn(compare: [.absent(keys.cluster)],
                          success: [.put(key: keys.cluster, value: identity), .put(key: keys.config, value: EtcdMembershipConfig(voters: voters).bytes),
                                    .put(key: keys.seq, value: Array("0".utf8))],
                          failure: [.get(key: keys.cluster)])
        let result = try await mapping("bootstrap") { () async throws(EtcdError) in try await client.txn(txn, operation: "bootstrap \(keys.cluster)") }
        guard result.succeeded else {
            var created: Int64 = 0
            if case .get(let existing)? = result.results.first { created = existing.first?.createRevision ?? 0 }
            throw EtcdConsensusError(.invalid, "etcd already holds a cluster under \(keys.root) (created at revision \(created))")
        }
        state.withLock { state in
            if state.clusterRevision == nil {
                state.clusterRevision = result.revision
                state.clusterIdentity = ExternalClusterIdentity(revision: result.revision, id: id)
            }
            if state.seqModRevision == 0 { state.seqModRevision = result.revision }
            if state.configModRevision == 0 {
                state.config = EtcdMembershipConfig(voters: voters)
                state.configModRevision = result.revision
            }
        }
    }

    /// Adds a learner (caught up by construction: etcd holds the whole log).
    public func addLearner(_ id: NodeID) async throws(EtcdConsensusError) {
        try await changeConfig("add learner \(id)") { config throws(EtcdConsensusError) in
            guard !config.members.contains(id) else { return nil }
            return EtcdMembershipConfig(voters: config.voters, learners: config.learners + [id])
        }
    }

    public func promote(_ id: NodeID) async throws(EtcdConsensusError) {
        try await changeConfig("promote \(id)") { config throws(EtcdConsensusError) in
            if config.voters.contains(id) { return nil }
            guard config.learners.contains(id) else { throw EtcdConsensusError(.invalid, "\(id) is not a learner") }
            return EtcdMembershipConfig(voters: config.voters + [id], learners: config.learners.filter { $0 != id })
        }
    }

    public func removeMember(_ id: NodeID) async throws(EtcdConsensusError) {
        try await changeConfig("remove \(id)") { config throws(EtcdConsensusError) in
            guard config.members.contains(id) else { return nil }
            let voters = config.voters.filter { $0 != id }
            guard !voters.isEmpty else { throw EtcdConsensusError(.invalid, "removing \(id) would leave no voter") }
            return EtcdMembershipConfig(voters: voters, learners: config.learners.filter { $0 != id })
        }
    }

    /// A compare-and-set of `config`, fenced by this node's leadership and the cluster's epoch.
    func changeConfig(_ what: String, _ change: (EtcdMembershipConfig) throws(EtcdConsensusError) -> EtcdMembershipConfig?) async throws(EtcdConsensusError) {
        for _ in 0..<3 {
            try checkLeader()
            let (leadership, config, configMod, known) = state.withLock { ($0.leadership, $0.config, $0.configModRevision, $0.clusterRevision) }
            guard let leadership else { throw notLeaderError() }
            guard let cluster = known else {
                if await readClusterRevision() { continue }
                throw EtcdConsensusError(.invalid, "etcd holds no cluster under \(keys.root)")
            }
            guard let changed = try change(config) else { return }
            let txn = EtcdTxn(compare: [EtcdCompare(keys.config, .modRevision(configMod)), leadership.fence, EtcdCompare(keys.cluster, .createRevision(cluster))],
                              success: [.put(key: keys.config, value: changed.bytes)], failure: [.get(key: keys.config)])
            let result = try await mapping(what) { () async throws(EtcdError) in try await client.txn(txn, operation: "\(what) in \(keys.config)") }
            if result.succeeded {
                state.withLock { state in
                    if state.configModRevision < result.revision {
                        state.config = changed
                        state.configModRevision = result.revision
                    }
                }
                return
            }
            if case .get(let current)? = result.results.first, let kv = current.first, let stored = EtcdMembershipConfig(bytes: kv.value) {
                state.withLock { state in
                    if state.configModRevision < kv.modRevision {
                        state.config = stored
                        state.configModRevision = kv.modRevision
                    }
                }
            }
        }
        throw EtcdConsensusError(.notWritten, "etcd: \(what) lost three races for \(keys.config) and was not written")
    }

    /// Gives up leadership (the next candidate in line takes over) and campaigns again.
    public func resign() async throws(EtcdConsensusError) {
        guard let leadership = state.withLock({ $0.leadership }) else { throw notLeaderError() }
        try await mapping("resign") { () async throws(EtcdError) in try await election.resign(leadership) }
        state.withLock { if $0.leadership == leadership { $0.leadership = nil } }
    }

    // MARK: Helpers

    /// True when etcd's voting configuration under the prefix names this node (read from etcd,
    /// not from what the watch has delivered so far).
    public func isMemberOfExistingCluster() async -> Bool {
        guard await readClusterRevision(), let record = try? await client.get(keys.config),
              let config = EtcdMembershipConfig(bytes: record.value) else { return false }
        return config.members.contains(localID)
    }

    /// Whether etcd's configuration under the prefix names this node, read from etcd now: false
    /// when etcd holds no cluster there, nil when etcd could not be read (or its configuration not parsed).
    public func readMembership() async -> Bool? {
        await readClusterMembership()?.namesThisNode
    }

    /// The cluster under the prefix and whether its configuration names this node, read from
    /// etcd now (linearizable), both as of one revision: nil when etcd could not be read (or its
    /// configuration not parsed).
    public func readClusterMembership() async -> ExternalMembershipReading? {
        do throws(EtcdError) {
            let clusterRange = try await client.range(keys.cluster, prefix: false)
            guard let cluster = clusterRange.kvs.first, cluster.createRevision > 0 else {
                return ExternalMembershipReading(cluster: nil, namesThisNode: false)
            }
            let identity = ExternalClusterIdentity(clusterRecord: cluster)
            let configRange = try await client.range(keys.config, prefix: false, revision: clusterRange.revision)
            guard let record = configRange.kvs.first else { return ExternalMembershipReading(cluster: identity, namesThisNode: false) }
            guard let config = EtcdMembershipConfig(bytes: record.value) else { return nil }
            return ExternalMembershipReading(cluster: identity, namesThisNode: config.members.contains(localID))
        } catch {
            noteError(error)
            return nil
        }
    }

    /// The index of the log's last entry in etcd now (a linearizable read of the sequence key;
    /// 0 when the log is empty). Every entry in etcd is committed (etcd's own Raft did that), so
    /// a node that has applied through it has caught up with the cluster as of this read.
    public func readLastIndex() async throws(EtcdConsensusError) -> UInt64 {
        let seq = try await mapping("read \(keys.seq)") { () async throws(EtcdError) in try await client.get(keys.seq) }
        guard let seq else { return 0 }
        guard let index = UInt64(seq.text) else {
            throw EtcdConsensusError(.failed, "etcd holds \(seq.text.prefix(64).debugDescription) under \(keys.seq), not a log index")
        }
        return index
    }

    /// Bootstrapped a moment ago, the watch may not have delivered the cluster record yet: reads
    /// it from etcd. True when it exists (and its revision is now known).
    func readClusterRevision() async -> Bool {
        guard let record = try? await client.get(keys.cluster), record.createRevision > 0 else { return false }
        state.withLock { state in
            guard state.clusterRevision == nil else { return }
            state.clusterRevision = record.createRevision
            state.clusterIdentity = ExternalClusterIdentity(clusterRecord: record)
        }
        return true
    }

    func checkLeader() throws(EtcdConsensusError) {
        if state.withLock({ $0.stopped }) { throw EtcdConsensusError(.stopped, "the etcd engine has stopped") }
        guard status.isLeader else { throw notLeaderError() }
    }

    func notLeaderError() -> EtcdConsensusError {
        let current = status
        if keeper.leaseID == nil, state.withLock({ $0.leadership != nil }) {
            return EtcdConsensusError(.notLeader, "not the leader: this node's etcd lease passed its deadline without renewal (\(current.lastError ?? "etcd unreachable"))")
        }
        let named = current.leader.map { "the leader is \($0)" } ?? "no leader is known"
        return EtcdConsensusError(.notLeader, "not the leader; \(named)", leader: current.leader == localID ? nil : current.leader)
    }

    func mapping<T>(_ what: String, _ body: () async throws(EtcdError) -> T) async throws(EtcdConsensusError) -> T {
        do throws(EtcdError) {
            let value = try await body()
            noteSuccess()
            return value
        } catch {
            noteError(error)
            let code: EtcdConsensusError.Code = error.isTransient ? .etcdUnavailable : .failed
            throw EtcdConsensusError(code, "\(what) failed: \(error)")
        }
    }

    func noteError(_ error: EtcdError) { state.withLock { $0.lastError = error.description } }
    func noteSuccess() { state.withLock { $0.lastError = nil } }
}
