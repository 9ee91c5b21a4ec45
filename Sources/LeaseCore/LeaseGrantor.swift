import DiscoCore

// MARK: - LeaseCandidate

/// What the Raft leader knows about one replica of the group when it picks the next holder.
public struct LeaseCandidate: Hashable, Sendable {
    public var node: NodeID
    /// `-hot-priority`: among eligible replicas the highest is granted (ties: the smallest ID).
    public var priority: Int
    /// Whether the replica's upstream passes its health checks.
    public var healthy: Bool
    /// False for `-no-hot` replicas, which are never granted the lease.
    public var mayBeHot: Bool
    /// Whether the leader is in touch with the replica (it answers, gossip shows it alive).
    public var inTouch: Bool

    public init(node: NodeID, priority: Int = 0, healthy: Bool = true, mayBeHot: Bool = true, inTouch: Bool = true) {
        self.node = node
        self.priority = priority
        self.healthy = healthy
        self.mayBeHot = mayBeHot
        self.inTouch = inTouch
    }

    /// Whether the replica may be granted the lease now.
    public var isEligible: Bool { healthy && mayBeHot && inTouch }
}

// MARK: - LeaseGrantor

/// The granting side of the lease. Every node runs one per group and feeds it every applied
/// change (``applied(_:now:)``), so that it knows *on its own clock* when it applied the group's
/// latest grant, renewal or release; only the Raft leader's grantor proposes grants (or, for a
/// group the leader runs no replica of, every replica's: ``grants(isLeader:leader:candidates:)``)
/// (``decide(now:isLeader:candidates:)``).
///
/// The leader proposes a grant when the lease is not held (never granted, or released — a
/// releasing holder stopped acting before it proposed the release, and a new process releasing
/// an earlier process's claim waited out that process's hot window first), or when its own clock shows
/// ``LeaseSettings/ttl`` — or the holder's own ttl when its renewals carry a longer one
/// (``LeaseState/holderTTL``) — elapsed since it applied the latest change: the holder, which counts
/// its shorter renew deadline from a send that came before that apply, has stopped by then. The
/// grant is a compare-and-set on that change, so a renewal committed meanwhile makes it a no-op.
/// A leader that applied the latest change late (it was behind, it restarted, it was just
/// elected) only waits longer.
///
/// **After an election.** A holder that is alive renews with a new leader as soon as it learns
/// of it, but its renewals could not commit during the election, which may last longer than
/// what was left of the ttl. So a newly elected leader (``leadershipGained(now:previousLeader:)``)
/// gives the holder ``LeaseSettings/renewDeadline`` to renew before it grants elsewhere — unless
/// the holder was the leader it replaced (which most likely died with it). Waiting longer is
/// always safe; it keeps a Raft leader change from moving the lease.
public struct LeaseGrantor: Sendable {
    /// What the shell must do after a decision.
    public enum Effect: Hashable, Sendable {
        /// Propose this grant through Raft (its outcome shows in the applied state).
        case proposeGrant(LeaseCommand)
        /// Call ``decide(now:isLeader:candidates:)`` again at local time `deadline` (and whenever
        /// leadership, the applied state or a candidate changes).
        case arm(deadline: Duration)
    }

    public let settings: LeaseSettings
    public let group: LeaseGroup
    /// The group's replicated state as last applied on this node.
    public private(set) var lease = LeaseState()
    /// The local time at which this node first applied the state's ``LeaseState/lastChange``.
    public private(set) var changeAppliedAt: Duration?
    /// The last grant proposed: its compare-and-set base and local time.
    var lastProposal: (expected: UInt64, at: Duration)?
    /// Since the latest election won: until when a held lease is left to its holder, and the
    /// leader this node replaced (whose lease gets no such grace).
    var election: (graceUntil: Duration, previousLeader: NodeID?)?

    public init(settings: LeaseSettings, group: LeaseGroup) {
        self.settings = settings
        self.group = group
    }

    /// The node applied a change of the group's state (or restored it from a snapshot) at `now`.
    public mutating func applied(_ state: LeaseState, now: Duration) {
        if changeAppliedAt == nil || state.lastChange != lease.lastChange { changeAppliedAt = now }
        lease = state
    }

    /// This node won an election at `now`, replacing `previousLeader` (the last other leader it
    /// knew of; nil when it knew of none).
    public mutating func leadershipGained(now: Duration, previousLeader: NodeID?) {
        election = (now + settings.renewDeadline, previousLeader)
    }

    /// The earliest local time at which a grant may be proposed (nil: nothing applied yet).
    public var grantableAt: Duration? {
        guard let changeAppliedAt else { return nil }
        guard let holder = lease.holder else { return changeAppliedAt }
        let expiry = changeAppliedAt + ttl
        guard let election, election.previousLeader != holder else { return expiry }
        return max(expiry, election.graceUntil)
    }

    /// How long after applying the latest change this grantor waits before granting away from
    /// its holder: its own ttl, or the holder's when the holder's latest renewal carried a
    /// longer one (``LeaseState/holderTTL``: the holder's renew deadline was checked against it).
    public var ttl: Duration { max(settings.ttl, lease.holderTTL ?? settings.ttl) }

    /// The replica to grant to: the move target when it is eligible, else the eligible replica
    /// with the highest priority (ties: the smallest node ID). The last holder — whose lease
    /// expired or who released it — is chosen only when no other replica is eligible: it
    /// just failed to renew, stopped, turned unhealthy or restarted, and gossip may not show it yet.
    public func choose(from candidates: [LeaseCandidate]) -> NodeID? {
        let eligible = candidates.filter(\.isEligible)
        if let target = lease.moveTo, eligible.contains(where: { $0.node == target }) { return target }
        let others = eligible.filter { $0.node != lease.lastHolder }
        return (others.isEmpty ? eligible : others).min { ($1.priority, $0.node) < ($0.priority, $1.node) }?.node
    }

    /// Whether this node's grantor proposes the group's grants: when it is the Raft leader, or
    /// when the Raft `leader` runs no replica of the group (it announced no candidacy: it serves
    /// another group or is a plain node) — then every replica of the group grants, so a dead
    /// replica holds nothing up. Grants are compare-and-sets timed on the proposer's own clock,
    /// so several grantors are safe: the first grant commits, the others are refused.
    public static func grants(isLeader: Bool, leader: NodeID?, candidates: [LeaseCandidate]) -> Bool {
        if isLeader { return true }
        guard let leader else { return false }
        return !candidates.contains { $0.node == leader }
    }

    /// Decides whether this node, if it grants for the group (the Raft leader, or any replica
    /// while the leader runs none: ``grants(isLeader:leader:candidates:)``), proposes a grant now.
    public mutating func decide(now: Duration, isLeader: Bool, candidates: [LeaseCandidate]) -> [Effect] {
        guard isLeader, let grantableAt else { return [] }
        guard now >= grantableAt else { return [.arm(deadline: grantableAt)] }
        guard let node = choose(from: candidates) else { return [] }
        if let last = lastProposal, last.expected == lease.lastChange, now < last.at + settings.grantRetry {
            return [.arm(deadline: last.at + settings.grantRetry)]
        }
        lastProposal = (lease.lastChange, now)
        return [.proposeGrant(.grant(group, to: node, expectedLastChange: lease.lastChange)),
                .arm(deadline: now + settings.grantRetry)]
    }
}
