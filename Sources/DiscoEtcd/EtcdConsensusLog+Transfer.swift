import DiscoCore
import Foundation
import Synchronization

// MARK: - Transfer request

/// The `transfer` key's value: the leader (by its term, the create revision of its election
/// key) asks every candidate ahead of `target` in etcd's election line to re-enter behind it.
struct EtcdTransferRequest: Sendable, Hashable {
    var target: NodeID
    /// The term of the leader that asked; a request of an earlier leader is ignored.
    var term: Int64

    var bytes: [UInt8] {
        let object: [String: Any] = ["target": target.rawValue, "term": String(term)]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map(Array.init) ?? []
    }

    init(target: NodeID, term: Int64) {
        self.target = target
        self.term = term
    }

    /// Decodes the stored value; nil when it is not a transfer request.
    init?(bytes: [UInt8]) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any],
              let text = object["target"] as? String, let target = NodeID(text),
              let termText = object["term"] as? String, let term = Int64(termText) else { return nil }
        self.init(target: target, term: term)
    }
}

// MARK: - Leadership transfer to a chosen voter

extension EtcdConsensusLog {
    /// Hands leadership to `target`, a live voter campaigning in etcd: the leader writes a
    /// transfer request (fenced by its leadership and the cluster's epoch, attached to a lease of
    /// its own whose TTL is `limit`, so an abandoned request expires), every candidate ahead of
    /// the target deletes its election key and campaigns again behind it, and once nobody but
    /// this leader is ahead of the target, the leader resigns. Returns when this node has
    /// resigned; the caller waits for the target to lead.
    ///
    /// Throws `.invalid` for a target that is not a live voter, `.notLeader` when leadership is
    /// lost meanwhile, `.etcdUnavailable` when the candidates ahead did not step back within `limit`.
    public func transferLeadership(to target: NodeID, within limit: Duration) async throws(EtcdConsensusError) {
        try checkLeader()
        guard target != localID else { return }
        let (leadership, config, live, cluster) = state.withLock { ($0.leadership, $0.config, $0.live, $0.clusterRevision) }
        guard let leadership else { throw notLeaderError() }
        guard config.voters.contains(target) else {
            throw EtcdConsensusError(.invalid, "\(target) is not a voter; the voters are \(config.voters.map(\.rawValue).joined(separator: ", "))")
        }
        guard live[target] != nil else {
            throw EtcdConsensusError(.invalid, "\(target) is a voter but not live: it holds no etcd lease (no member record under \(keys.membersPrefix))")
        }
        guard let cluster else { throw EtcdConsensusError(.invalid, "etcd holds no cluster under \(keys.root)") }

        let lease = try await mapping("leadership transfer lease") { () async throws(EtcdError) in try await client.grantLease(ttl: limit) }.id
        // The request ends with its lease, whatever happens here.
        do throws(EtcdConsensusError) {
            try await handOver(leadership, to: target, cluster: cluster, lease: lease, within: limit)
        } catch {
            try? await client.revokeLease(lease)
            throw error
        }
        try? await client.revokeLease(lease)
    }

    /// Writes the request, waits for the candidates ahead of `target` to step back, resigns.
    private func handOver(_ leadership: EtcdLeadership, to target: NodeID, cluster: Int64, lease: Int64,
                          within limit: Duration) async throws(EtcdConsensusError) {
        let request = EtcdTransferRequest(target: target, term: leadership.revision)
        let written = try await mapping("leadership transfer request") { () async throws(EtcdError) in
            try await client.txn(EtcdTxn(compare: [leadership.fence, EtcdCompare(keys.cluster, .createRevision(cluster))],
                                         success: [.put(key: keys.transfer, value: request.bytes, lease: lease)]),
                                 operation: "transfer leadership to \(target) in \(keys.transfer)")
        }
        guard written.succeeded else { throw notLeaderError() }

        let deadline = ContinuousClock.now + limit
        while true {
            try checkLeader()
            // The target's key may be missing for a moment (it is entering the election again).
            let (ahead, member) = state.withLock { state -> ([String]?, Bool) in
                guard let position = state.candidateRevision(of: target) else { return (nil, state.live[target] != nil) }
                return (state.candidates.values.filter { $0.createRevision < position && $0.key != leadership.key }.map(\.text), true)
            }
            guard member else { throw EtcdConsensusError(.invalid, "\(target) stopped during the transfer (its etcd lease ended)") }
            if ahead?.isEmpty == true { break }
            guard ContinuousClock.now < deadline else {
                guard let ahead else {
                    throw EtcdConsensusError(.invalid, "\(target) did not campaign in etcd's election within \(limit) (no key under \(keys.electionPrefix))")
                }
                throw EtcdConsensusError(.etcdUnavailable, "\(ahead.sorted().joined(separator: ", ")) did not step back behind \(target) in etcd's election within \(limit)")
            }
            do { try await Task.sleep(for: .milliseconds(20)) } catch { throw EtcdConsensusError(.stopped, "the transfer was cancelled") }
        }
        try await resign()
    }

    /// After each watch batch: when the current leader asked to hand leadership to another node
    /// and this node's election key stands ahead of that node's, deletes the key (only while the
    /// request is the same one); the campaign then enters again, behind the target.
    func stepBackIfAsked() async {
        guard let lease = keeper.leaseID else { return }
        let myKey = election.key(lease: lease)
        let step = state.withLock { state -> (revision: Int64, requestRevision: Int64)? in
            guard let pending = state.transfer, pending.request.target != configuration.localID,
                  let leader = state.leaderCandidate, leader.createRevision == pending.request.term, leader.key != myKey,
                  let mine = state.candidates[myKey], let target = state.candidateRevision(of: pending.request.target),
                  mine.createRevision < target else { return nil }
            return (mine.createRevision, pending.modRevision)
        }
        guard let step else { return }
        do throws(EtcdError) {
            _ = try await client.txn(EtcdTxn(compare: [EtcdCompare(myKey, .createRevision(step.revision)),
                                                       EtcdCompare(keys.transfer, .modRevision(step.requestRevision))],
                                             success: [.delete(key: myKey)]),
                                     operation: "step back in \(keys.electionPrefix)")
        } catch {
            noteError(error)
        }
    }
}
