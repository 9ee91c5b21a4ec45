// MARK: - FormationState

/// How formation is going, as `GET /status` shows it (`bootstrap.state`).
enum FormationState: String, Sendable, Hashable, CaseIterable {
    /// Nothing decided yet.
    case starting
    /// Running the `-bootstrap-expect` engine.
    case bootstrapping
    /// Joining through `-join`.
    case joining
    /// Restarting with Raft state, looking for the other members.
    case rejoining
    /// Reading or creating the KV leader record.
    case registering
    /// Part of a cluster.
    case clustered
    /// Formation (or the node) failed; the node stops.
    case failed
}
