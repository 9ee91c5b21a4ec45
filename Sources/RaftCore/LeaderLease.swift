import DiscoCore

// MARK: - LeaderLease

/// Whether a leader may answer a read from its lease, without a heartbeat round
/// (``RaftOptions/leaseReads``).
///
/// A follower that hears a heartbeat refuses votes (other than a transfer's) until it has ticked
/// `electionTicks` times, which takes more than `electionTicks - 1` tick intervals (its first tick
/// may come at once). So once a quorum has answered a heartbeat sent at the leader's tick `s`, no
/// other leader can be elected before `electionTicks - 1` intervals after `s`; at the leader's
/// tick `s + k` up to `k + 1` intervals may have passed, so the lease holds while
/// `k + 2 ≤ electionTicks`. Being leader is not enough: check-quorum looks once per election
/// timeout, so a leader cut off leads on for up to two timeouts after it last heard from a quorum.
/// A leader that told a follower to campaign (TimeoutNow) has no lease left in its term: the votes
/// of that campaign ignore the followers' leases.
struct LeaderLease: Sendable {
    /// Ticks since this node became leader.
    private var now: UInt64 = 0
    /// Heartbeat rounds sent within the last election timeout, with the tick each went out at,
    /// oldest first.
    private var sent: [(round: UInt64, tick: UInt64)] = []
    /// The newest round each voter answered.
    private var answered: [NodeID: UInt64] = [:]
    /// Whether this leader sent TimeoutNow in its term.
    var handedOff = false

    /// Advances the leader's clock, forgetting rounds too old to hold a lease.
    mutating func tick(electionTicks: Int) {
        now += 1
        sent.removeAll { now - $0.tick >= UInt64(electionTicks) }
    }

    mutating func recordSent(round: UInt64) { sent.append((round, now)) }

    mutating func recordAnswer(round: UInt64, from peer: NodeID) {
        answered[peer] = max(answered[peer] ?? 0, round)
    }

    /// Whether the lease holds now for `leader` in a configuration of `voters`.
    func holds(leader: NodeID, voters: [NodeID], quorum: Int, electionTicks: Int) -> Bool {
        guard !handedOff, quorum >= 1, voters.count >= quorum else { return false }
        // The newest round a quorum answered (the leader answers its own rounds at once).
        let rounds = voters.map { $0 == leader ? UInt64.max : answered[$0] ?? 0 }.sorted(by: >)
        let round = rounds[quorum - 1]
        guard let sentAt = sent.last(where: { $0.round <= round })?.tick else { return false }
        return now - sentAt + 2 <= UInt64(electionTicks)
    }
}
