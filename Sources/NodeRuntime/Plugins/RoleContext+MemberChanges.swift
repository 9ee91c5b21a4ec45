import DiscoCore

// MARK: - Member record changes

/// One committed change of a member record, with the Raft index of the entry that made it (the
/// same on every node, so roles on several nodes can agree on it).
public enum MemberRecordChange: Hashable, Sendable {
    /// A member was added.
    case joined(ClusterMember, index: UInt64)
    /// A member's record changed; `previous` is what it was (addresses, roles or vote).
    case updated(ClusterMember, previous: ClusterMember, index: UInt64)
    /// A member was removed.
    case left(ClusterMember, index: UInt64)
    /// The state was replaced by a snapshot up to `index`: re-read the members.
    case restored(index: UInt64)

    /// The Raft index of the change.
    public var index: UInt64 {
        switch self {
        case .joined(_, let index), .updated(_, _, let index), .left(_, let index), .restored(let index): index
        }
    }
}

extension RoleContext {
    /// Every member record change as it is applied from now on (a node catching up replays
    /// older ones: compare ``MemberRecordChange/index`` with ``appliedIndex``), until the node
    /// stops or the consumer's task is cancelled.
    public func memberRecordChanges() -> AsyncStream<MemberRecordChange> {
        AsyncStream.mapping(node.store.changes()) { change -> MemberRecordChange? in
            switch change {
            case .restored(let index): .restored(index: index)
            case .applied(let index, .memberUpdated(let member, nil)): .joined(member, index: index)
            case .applied(let index, .memberUpdated(let member, let previous?)): .updated(member, previous: previous, index: index)
            case .applied(let index, .memberRemoved(let member)): .left(member, index: index)
            case .applied: nil
            }
        }
    }

    /// The member records (sorted by ID) as of the Raft index returned with them: a change
    /// from ``memberRecordChanges()`` at or below that index is already reflected.
    public var memberRecords: (members: [ClusterMember], index: UInt64) {
        let snapshot = node.store.membersWithAppliedIndex
        return (snapshot.members, snapshot.appliedIndex)
    }

    /// The index of the last entry this node applied.
    public var appliedIndex: UInt64 { node.consensus.status.appliedIndex }

    /// The current leader's ID, if one is known.
    public var leader: NodeID? { node.consensus.status.leader }
}
