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
    /// source host, naming both clusters); an unlabelled one is accepted and its sender, for
    /// datagrams, is answered without a label for a while (a member of an older version cannot
    /// read labels).
    func admits(_ label: String?, from sender: PeerAddress, _ what: String, isDatagram: Bool) -> Bool {
        guard let ours = wireLabel else { return true }
        guard let label else {
            stats.unlabelledAccepted += 1
            if isDatagram { rememberUnlabelled(sender) }
            return true
        }
        if label == ours.name {
            if isDatagram { unlabelledPeers[sender] = nil }
            return true
        }
        stats.clusterRefusals += 1
        let now = now()
        if let last = clusterRefusalLogs[sender.host], now - last < Self.clusterRefusalLogInterval { return false }
        if clusterRefusalLogs.count >= Self.maxClusterRefusalLogs {
            clusterRefusalLogs = clusterRefusalLogs.filter { now - $0.value < Self.clusterRefusalLogInterval }
        }
        if clusterRefusalLogs.count < Self.maxClusterRefusalLogs { clusterRefusalLogs[sender.host] = now }
        configuration.logger.warning("dropped a \(what) from another cluster: it is labelled \(label.debugDescription), "
                                     + "this member's cluster is \(ours.name.debugDescription)",
                                     metadata: ["from": "\(sender)", "cluster": "\(ours.name)", "their_cluster": "\(label)"])
        return false
    }

    /// The label to put in front of what is sent to `destination`: none when sealing, or when
    /// `destination` recently sent unlabelled datagrams.
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
    /// with another cluster (or the other member refused ours for that reason).
    func countClusterRefusal(_ error: SWIM.ShellError, with destination: PeerAddress) {
        stats.clusterRefusals += 1
        let now = now()
        if let last = clusterRefusalLogs[destination.host], now - last < Self.clusterRefusalLogInterval { return }
        if clusterRefusalLogs.count < Self.maxClusterRefusalLogs { clusterRefusalLogs[destination.host] = now }
        configuration.logger.warning("push-pull with a member of another cluster", metadata: ["peer": "\(destination)", "error": "\(error.detail)"])
    }
}
