import DiscoCore
import DiscoNet

// MARK: - RaftShellConfiguration

/// Everything a ``RaftNodeShell`` needs to start.
public struct RaftShellConfiguration: Sendable {
    /// This node's ID; it must never change for the life of `dataDirectory`.
    public var id: NodeID
    /// Where the WAL, hard state and snapshot live (created if missing).
    public var dataDirectory: String
    /// Where to listen for internode traffic; port 0 lets the OS choose.
    public var listenHost: String = "127.0.0.1"
    public var listenPort: UInt16 = 0
    /// Where peers are now.
    public var addressBook: RaftAddressBook
    /// The voters of a new cluster. Used only when the data directory is empty; every founding
    /// member must be given the same list. Empty: this node waits to be added to an existing
    /// cluster (it will not campaign until a configuration naming it arrives).
    public var bootstrapVoters: [NodeID] = []
    /// How often the core's logical clock ticks (heartbeats and election timeouts are counted in
    /// ticks; see ``RaftOptions``).
    public var tickInterval: Duration = .milliseconds(100)
    public var raft: RaftOptions = RaftOptions()
    public var transport: RaftTransportOptions = RaftTransportOptions()
    /// WAL segment size.
    public var segmentSize: Int = DurableRaftStorage.defaultSegmentSize
    /// Seed for the core's randomized election timeouts; nil draws one from the system.
    public var seed: UInt64?
    /// Network messages queued for the node before new ones are refused (and counted).
    public var maxQueuedMessages: Int = 65536
    public var logger: Logger
    /// Event loops for the internode connections.
    public var group: EventLoopGroup = .shared

    public init(id: NodeID, dataDirectory: String, addressBook: @escaping RaftAddressBook, logger: Logger) {
        self.id = id
        self.dataDirectory = dataDirectory
        self.addressBook = addressBook
        self.logger = logger
    }
}

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
