import DiscoCore

// MARK: - LeaseKeyValueSpace

/// The key-value operations a lease needs, in the shape the node's replicated key-value state
/// and etcd share: entries with revisions (the log index of their last change), puts guarded by
/// a revision (compare-and-set), watches by name prefix, and the node's view of the cluster.
/// ``KeyValueLeaseTableStore`` builds the lease on it; each backend adapts its own API in one
/// thin type (the names live in one namespace of its own, e.g. `hot-cold`).
public protocol LeaseKeyValueSpace: Sendable {
    /// The entry under `name` as this node has applied it, or nil when there is none.
    func entry(_ name: String) -> LeaseKeyValueEntry?

    /// Puts `value` under `name` if the entry's revision is still `expected` (0: absent). A
    /// follower forwards it to the leader.
    func put(_ name: String, _ value: [UInt8], ifRevision expected: UInt64) async -> LeaseKeyValueWrite

    /// The entries whose names start with `prefix`, as this node has applied them.
    func entries(prefix: String) -> [LeaseKeyValueEntry]

    /// Deletes the entry under `name` if its revision is still `expected`. A follower forwards it.
    func delete(_ name: String, ifRevision expected: UInt64) async -> LeaseKeyValueWrite

    /// Hands `deliver` the entries whose names start with `prefix` as this node has applied them,
    /// then every change to them in apply order, until the calling task is cancelled.
    func watch(prefix: String, to deliver: @escaping @Sendable (LeaseKeyValueEvent) -> Void) async

    /// Hands `deliver` this node's view of the cluster now and after every change, until the
    /// calling task is cancelled.
    func watchCluster(to deliver: @escaping @Sendable (LeaseClusterView) -> Void) async

    /// Waits until this node has applied `revision`; false when `timeout` passed first.
    func waitUntilApplied(_ revision: UInt64, timeout: Duration) async -> Bool

    /// Waits until this node knows a leader and has applied everything committed as far as it
    /// knows (a restarted node has replayed its log), or the calling task is cancelled: what it
    /// reads after that includes every entry it wrote before it restarted.
    func waitUntilCaughtUp() async
}

extension LeaseKeyValueSpace {
    /// A space whose reads are always current (in memory) has nothing to wait for.
    public func waitUntilCaughtUp() async {}
}

/// One entry: its value and the revision of its last change.
public struct LeaseKeyValueEntry: Hashable, Sendable {
    public var name: String
    public var value: [UInt8]
    public var revision: UInt64

    public init(name: String, value: [UInt8], revision: UInt64) {
        self.name = name
        self.value = value
        self.revision = revision
    }
}

/// A watched change.
public enum LeaseKeyValueEvent: Hashable, Sendable {
    /// The entry as it now is (also how a watch reports the entries that exist when it starts).
    case put(LeaseKeyValueEntry)
    /// The entry was deleted at `revision`.
    case deleted(name: String, revision: UInt64)
}

/// What became of a compare-and-set put.
public enum LeaseKeyValueWrite: Hashable, Sendable {
    /// Committed at `revision`.
    case committed(revision: UInt64)
    /// The entry's revision was `found`, not the one expected; nothing was written.
    case conflict(found: UInt64)
    /// Nothing was written (no leader, a stopping node): retry.
    case unavailable(String)
    /// The outcome is unknown (leadership changed after proposing).
    case unknown(String)
}

/// A node's view of its cluster, as the lease needs it.
public struct LeaseClusterView: Hashable, Sendable {
    /// The leader as this node knows it.
    public var leader: LeaseStoreLeader
    /// The members this node believes alive (gossip), itself included.
    public var alive: Set<NodeID>
    /// The cluster's members that run a replica, as the replicated state has them — for a node,
    /// the members whose record announces the hot/cold role (nil: not known). Candidacies of any
    /// other node — one removed from the cluster, or restarted without the role — are ignored.
    public var members: Set<NodeID>?

    public init(leader: LeaseStoreLeader, alive: Set<NodeID>, members: Set<NodeID>? = nil) {
        self.leader = leader
        self.alive = alive
        self.members = members
    }
}
