import DiscoCore

// MARK: - Status

/// A node's view of its group, published after every batch of work.
public struct RaftStatus: Sendable, Hashable {
    public var id: NodeID
    public var role: RaftRole
    public var term: UInt64
    public var leader: NodeID?
    public var commitIndex: UInt64
    public var appliedIndex: UInt64
    public var lastIndex: UInt64
    public var snapshotIndex: UInt64
    public var config: ClusterConfig
    /// Whether the shell stopped (shut down, or storage failed).
    public var isStopped: Bool
    /// WAL fsyncs since the node started (group commit makes this far smaller than the number of
    /// entries written).
    public var storageSyncs: Int

    public var isLeader: Bool { role == .leader }
}

/// A change of leader (or of term) as seen by one node.
public struct LeadershipChange: Sendable, Hashable {
    public var term: UInt64
    /// The leader, or nil while there is none (an election is running).
    public var leader: NodeID?
    /// Whether this node is the leader.
    public var isLocal: Bool
}
