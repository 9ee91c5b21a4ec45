import DiscoCore
import LeaseCore

// MARK: - What a store reports

/// This node's view of the cluster's leader, as the lease store sees it.
public struct LeaseStoreLeader: Hashable, Sendable {
    /// The leader this node knows of (nil while there is none, e.g. during an election).
    public var leader: NodeID?
    /// Whether this node is the leader: only the leader's grantor proposes grants.
    public var isSelf: Bool

    public init(leader: NodeID?, isSelf: Bool) {
        self.leader = leader
        self.isSelf = isSelf
    }

    /// No known leader.
    public static let none = LeaseStoreLeader(leader: nil, isSelf: false)
}

/// One thing the store tells the shell about a group.
public enum LeaseStoreEvent: Hashable, Sendable {
    /// The group's replicated state after a change this node applied (or restored, or found when
    /// the stream began), with the local instant at which it was applied. Delivered in apply order.
    case applied(LeaseState, at: ContinuousClock.Instant)
    /// The node's view of the leader changed.
    case leader(LeaseStoreLeader)
    /// The replicas of the group as this node knows them: announced candidacy (health, priority,
    /// `-no-hot`) and whether the node is in touch with each. What a leader grants from.
    case candidates([LeaseCandidate])
}

/// What became of a proposed lease command.
public enum LeaseProposalOutcome: Hashable, Sendable {
    /// The command was committed and applied (as a change or as a refusal).
    case applied(LeaseApplyResult)
    /// Its fate is unknown within the time allowed: no leader, lost, not yet committed. It may
    /// still apply later; the applied state will show it.
    case unknown(reason: String)
}

// MARK: - LeaseTableStore

/// Where a group's replicated lease table lives, as the lease shell needs it.
///
/// Implementations: the node's replicated key-value state (the leader proposes, followers
/// forward), etcd later, and `InMemoryLeaseCluster` in DiscoTestKit for tests. What every
/// implementation must guarantee:
///
/// - **One apply order.** Lease commands are applied with `LeaseTable.apply(_:index:)` in a
///   single linearizable order with increasing indexes, the same on every node.
/// - **Apply before answer.** ``propose(_:timeout:)`` answers `.applied` only once the command
///   was applied on this node, and the ``LeaseStoreEvent/applied(_:at:)`` event of a change
///   was delivered (or is ahead in the stream) by then.
/// - **Bounded answers.** ``propose(_:timeout:)`` returns within about `timeout`, with
///   `.unknown` when it cannot tell; a late command may still apply afterwards.
public protocol LeaseTableStore: Sendable {
    /// Hands the events of `group` to `deliver` — first its current applied state, the leader and
    /// the candidates as known now, then every change — until the calling task is cancelled.
    /// (The caller owns the task; an implementation that merges several sources runs them as
    /// child tasks of this call.)
    func deliverEvents(for group: LeaseGroup, to deliver: @escaping @Sendable (LeaseStoreEvent) -> Void) async

    /// Proposes `command` (through the leader; a follower forwards it) and answers once it was
    /// applied on this node, or `.unknown` after about `timeout`.
    func propose(_ command: LeaseCommand, timeout: Duration) async -> LeaseProposalOutcome

    /// Publishes this replica's candidacy for `group` (its health, `-hot-priority` and
    /// `-no-hot`) where the leader's grantor will see it in ``LeaseStoreEvent/candidates(_:)``.
    /// Called again after every change, the latest call winning.
    func announce(_ candidate: LeaseCandidate, in group: LeaseGroup) async

    /// Withdraws every candidacy of this node for a group other than `group` (the one it serves
    /// now): left from before it moved to `group`, they would make it a candidate where it runs
    /// no replica. Called once when the shell starts, before its first ``announce(_:in:)``.
    func withdrawCandidacies(exceptIn group: LeaseGroup) async
}

extension LeaseTableStore {
    /// Stores that keep no candidacies across restarts have nothing to withdraw.
    public func withdrawCandidacies(exceptIn group: LeaseGroup) async {}
}
