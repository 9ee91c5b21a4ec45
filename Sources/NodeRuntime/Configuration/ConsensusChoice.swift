import DiscoCore

// MARK: - ConsensusChoice

/// Which engine keeps the cluster's replicated state (`-consensus`).
public enum ConsensusChoice: Sendable, Hashable, CustomStringConvertible {
    /// Embedded Raft: nothing else to run (the default).
    case raft
    /// An existing etcd cluster, reached with the same settings as `etcd-kv` discovery
    /// (endpoints, credentials, `ca_file`, `cert_file`, `key_file`, `insecure_skip_verify`);
    /// the state lives under `/<key>/` (`-disco-key`).
    case etcd(EtcdKVConfig, key: String)

    public var description: String {
        switch self {
        case .raft: "raft"
        case .etcd(let config, let key): "etcd \(config.endpointURLs.joined(separator: ",")) under /\(key)/"
        }
    }
}
