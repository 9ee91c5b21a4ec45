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
    /// Takes inbound connections whose first frame is not a Raft frame (another protocol sharing
    /// the internode port, such as SWIM's push-pull); nil refuses them as malformed. See
    /// ``RaftForeignFrameHandler``.
    public var otherFrames: RaftForeignFrameHandler?
    /// Event loops for the internode connections; nil: the shared group, started with the node
    /// (a failure to start it fails the start).
    public var group: EventLoopGroup?

    public init(id: NodeID, dataDirectory: String, addressBook: @escaping RaftAddressBook, logger: Logger) {
        self.id = id
        self.dataDirectory = dataDirectory
        self.addressBook = addressBook
        self.logger = logger
    }
}
