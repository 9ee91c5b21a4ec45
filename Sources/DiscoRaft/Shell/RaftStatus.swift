import DiscoCore

// MARK: - Status

/// A node's view of its group, published after every batch of work.
public struct RaftStatus: Sendable, Hashable {
    public var id: NodeID
    public var role: RaftRole
    public var term: UInt64
    public var leader: NodeID?
    public var commitIndex: UInt64
    /// The highest commit index this node knows the group reached (``RaftNode/leaderCommitIndex``):
    /// above ``commitIndex`` on a follower whose log is still behind the leader's.
    public var leaderCommitIndex: UInt64
    public var appliedIndex: UInt64
    public var lastIndex: UInt64
    public var snapshotIndex: UInt64
    public var config: ClusterConfig
    /// Whether the shell stopped (shut down, or storage failed).
    public var isStopped: Bool
    /// Why the shell stopped on its own (storage failed, a configuration entry could not be
    /// decoded); nil while it runs and after a requested shutdown.
    public var failure: String?
    /// WAL fsyncs since the node started (group commit makes this far smaller than the number of
    /// entries written).
    public var storageSyncs: Int
    /// Whether the node has any Raft state: a term, a vote, log entries or a snapshot. A node
    /// without any can be bootstrapped (``RaftNodeShell/bootstrap(voters:)``) or added to a
    /// cluster; a node with some belongs to a cluster already (or at least took part in an
    /// election) and must rejoin instead.
    public var hasState: Bool
    /// On the leader: every other member's replication progress (empty on followers).
    public var peers: [NodeID: PeerProgress]
    /// Set once the node knows it was removed from the group (it no longer campaigns).
    public var removal: Removal?
    /// When this node last heard from the leader of its term (nil: never since it started);
    /// on the leader, the status's own time. Set by the shell, which owns the clock.
    public var lastLeaderContact: ContinuousClock.Instant?

    public var isLeader: Bool { role == .leader }

    init(node: RaftNode, isStopped: Bool, storageSyncs: Int, failure: String? = nil, lastLeaderContact: ContinuousClock.Instant? = nil) {
        self.lastLeaderContact = lastLeaderContact
        id = node.id
        role = node.role
        term = node.term
        leader = node.leader
        commitIndex = node.commitIndex
        leaderCommitIndex = node.leaderCommitIndex
        appliedIndex = node.appliedIndex
        lastIndex = node.lastIndex
        snapshotIndex = node.snapshotIndex
        config = node.config
        self.isStopped = isStopped
        self.failure = failure
        self.storageSyncs = storageSyncs
        hasState = node.hasState
        peers = node.peerProgress
        removal = node.removal
    }
}

extension RaftNode {
    /// Whether the node holds any state that storage keeps: a term, a vote, entries or a snapshot
    /// (the opposite of ``PersistentState/isEmpty``).
    var hasState: Bool { term > 0 || vote != nil || lastIndex > 0 }
}

/// A change of leader (or of term) as seen by one node.
public struct LeadershipChange: Sendable, Hashable {
    public var term: UInt64
    /// The leader, or nil while there is none (an election is running).
    public var leader: NodeID?
    /// Whether this node is the leader.
    public var isLocal: Bool
}
