import DiscoCore

// MARK: - Join messages

/// `POST /join`: "add me to your cluster". Sent to discovery targets (following leader redirects)
/// by late nodes, surplus nodes and plain `-join` nodes.
public struct JoinRequest: Hashable, Sendable {
    /// The joining node: ID, advertised Raft and API addresses, and whether it wants to vote.
    public var node: BootstrapPeer
    /// The cluster name the joiner expects (`-cluster-name`); another name is refused with 409.
    public var cluster: String
    /// The cluster epoch the joiner last belonged to, if it has state; a stale epoch is refused.
    public var epoch: UInt64?
    /// The joiner's own key (hexadecimal): registers its hash with a new member record, and
    /// proves a member that comes back on new addresses is that node.
    public var nodeKey: String?

    public init(node: BootstrapPeer, cluster: String, epoch: UInt64? = nil, nodeKey: String? = nil) {
        self.node = node
        self.cluster = cluster
        self.epoch = epoch
        self.nodeKey = nodeKey
    }
}

/// The leader as `/join`, `/leader` and `/status` report it.
public struct ClusterLeader: Hashable, Sendable, CustomStringConvertible {
    public var id: NodeID
    /// Advertised HTTP API address, `host:port` (printed as `http://host:port` on the wire).
    public var apiAddress: String
    /// Advertised Raft address, `host:port`.
    public var raftAddress: String

    public init(id: NodeID, apiAddress: String, raftAddress: String) {
        self.id = id
        self.apiAddress = apiAddress
        self.raftAddress = raftAddress
    }

    public var description: String { "\(id)@\(apiAddress)" }

    /// The leader as a voter, for address books.
    public var peer: BootstrapPeer { BootstrapPeer(id: id, raftAddress: raftAddress, apiAddress: apiAddress, voter: true) }
}

/// The 200 answer to `POST /join`: the node is a member, and this is the cluster it joined.
public struct JoinAccepted: Hashable, Sendable {
    public var leader: ClusterLeader
    public var cluster: String
    public var epoch: UInt64

    public init(leader: ClusterLeader, cluster: String, epoch: UInt64) {
        self.leader = leader
        self.cluster = cluster
        self.epoch = epoch
    }
}
