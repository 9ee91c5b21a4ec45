// MARK: - A cluster whose state lives outside the node

/// One incarnation of a cluster whose state lives outside the node: what tells it from a
/// cluster created later under the same key (etcd: the `cluster` key's create revision and the
/// random id its bootstrap wrote there).
public struct ExternalClusterIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The revision at which the store created the cluster's record.
    public var revision: Int64
    /// The random id the bootstrap wrote into that record (nil: unknown).
    public var id: String?

    public init(revision: Int64, id: String?) {
        self.revision = revision
        self.id = id
    }

    /// Whether a cluster seen as `other` is this one: the revisions are equal, and so are the
    /// ids when both are known.
    public func isSameCluster(as other: ExternalClusterIdentity) -> Bool {
        guard revision == other.revision else { return false }
        guard let id, let otherID = other.id else { return true }
        return id == otherID
    }

    public var description: String { "created at revision \(revision)" + (id.map { ", id \($0)" } ?? "") }
}

/// What the state outside the node says now about the cluster under its key.
public struct ExternalMembershipReading: Sendable, Hashable {
    /// The cluster there (nil: none).
    public var cluster: ExternalClusterIdentity?
    /// Whether its membership names this node.
    public var namesThisNode: Bool

    public init(cluster: ExternalClusterIdentity?, namesThisNode: Bool) {
        self.cluster = cluster
        self.namesThisNode = namesThisNode
    }
}
