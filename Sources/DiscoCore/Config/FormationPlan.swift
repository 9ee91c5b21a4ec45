// MARK: - FormationPlan

/// What a node without state does at its first start to form or join a cluster. A node with
/// state always rejoins its cluster.
public enum FormationPlan: Sendable, Hashable, CustomStringConvertible {
    /// Form a single-node cluster.
    case singleNode
    /// Join the cluster at the configured join addresses (or what discovery finds).
    case join
    /// Join if a cluster answers, else notify the peers and bootstrap once the expected number
    /// of voters know each other.
    case bootstrapExpect
    /// Claim or read the leader record in Consul or etcd.
    case keyValueRegistration

    public var description: String {
        switch self {
        case .singleNode: "single-node"
        case .join: "join"
        case .bootstrapExpect: "bootstrap-expect"
        case .keyValueRegistration: "kv-registration"
        }
    }
}
