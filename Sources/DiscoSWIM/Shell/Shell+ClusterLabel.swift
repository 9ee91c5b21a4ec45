import DiscoCore

// MARK: - Cluster labels on plaintext gossip

extension SWIM.Shell {
    /// How long an address that sent unlabelled datagrams is answered without a label.
    static let unlabelledPeerMemory: Duration = .seconds(300)
    /// Most such addresses remembered (beyond it, new ones get labelled messages).
    static let maxUnlabelledPeers = 4096
    /// Datagrams and states refused for their label are logged at most once per interval and
    /// source host.
    static let clusterRefusalLogInterval: Duration = .seconds(60)
    /// Most source hosts whose refusal logging is remembered.
    static let maxClusterRefusalLogs = 1024

    /// Whether a plaintext message labelled `label` (nil: unlabelled) from `sender` may be used.
    /// One labelled with another cluster is counted and logged (at most once a minute per
    /// source host, naming both clusters). An unlabelled one is accepted, and `member` (the
    /// SWIM address of the member that sent it) is answered without a label for a while: a
    /// member of an older version cannot read labels. A message labelled ours ends that.
    func admits(_ label: String?, from sender: PeerAddress, member: PeerAddress?, _ what: String) -> Bool {
        guard let ours = wireLabel else { return true }
        guard let label else {
            stats.unlabelledAccepted += 1
            if let member { rememberUnlabelled(member) }
            return true
        }
        if label == ours.name {
            if let member { unlabelledPeers[member] = nil }
            return true
        }
        stats.clusterRefusals += 1
        guard shouldLogClusterRefusal(from: sender.host) else { return false }
        configuration.logger.warning("dropped a \(what) from another cluster: it is labelled \(label.debugDescription), "
                                     + "this member's cluster is \(ours.name.debugDescription)",
                                     metadata: ["from": "\(sender)", "cluster": "\(ours.name)", "their_cluster": "\(label)"])
        return false
    }

    /// The label to put in front of what is sent to `destination`: none when sealing, or when
    /// the member at `destination` recently sent unlabelled gossip.
    func outgoingLabel(to destination: PeerAddress) -> SWIM.WireLabel? {
        guard let label = plaintextLabel else { return nil }
        guard let since = unlabelledPeers[destination] else { return label }
        if now() - since < Self.unlabelledPeerMemory { return nil }
        unlabelledPeers[destination] = nil
        return label
    }

    private func rememberUnlabelled(_ sender: PeerAddress) {
        let now = now()
        if unlabelledPeers[sender] == nil, unlabelledPeers.count >= Self.maxUnlabelledPeers {
            unlabelledPeers = unlabelledPeers.filter { now - $0.value < Self.unlabelledPeerMemory }
            guard unlabelledPeers.count < Self.maxUnlabelledPeers else { return }
        }
        unlabelledPeers[sender] = now
    }

    /// Counts and logs our push-pull exchange that failed because the answer came labelled
    /// with another cluster.
    func countClusterRefusal(_ error: SWIM.ShellError, with destination: PeerAddress) {
        stats.clusterRefusals += 1
        guard shouldLogClusterRefusal(from: destination.host) else { return }
        configuration.logger.warning("push-pull with a member of another cluster", metadata: ["peer": "\(destination)", "error": "\(error.detail)"])
    }

    /// Whether to log a refusal for `host` now: at most once per ``clusterRefusalLogInterval``.
    private func shouldLogClusterRefusal(from host: String) -> Bool {
        let now = now()
        if let last = clusterRefusalLogs[host], now - last < Self.clusterRefusalLogInterval { return false }
        if clusterRefusalLogs.count >= Self.maxClusterRefusalLogs {
            clusterRefusalLogs = clusterRefusalLogs.filter { now - $0.value < Self.clusterRefusalLogInterval }
        }
        if clusterRefusalLogs.count < Self.maxClusterRefusalLogs { clusterRefusalLogs[host] = now }
        return true
    }
}
