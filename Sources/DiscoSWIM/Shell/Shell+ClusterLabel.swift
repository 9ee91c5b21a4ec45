import DiscoCore

// MARK: - Cluster labels on plaintext gossip

extension SWIM.Shell {
    /// How long an address that sent unlabelled datagrams is answered without a label.
    static let unlabelledPeerMemory: Duration = .seconds(300)
    /// Most such addresses remembered (beyond it, new ones get labelled messages).
    static let maxUnlabelledPeers = 4096

    /// Whether a plaintext message labelled `label` (nil: unlabelled) from `sender` may be used.
    /// One labelled with another cluster is counted and logged (at most once a minute per
    /// source host, naming both clusters and how many were held back). An unlabelled one is accepted, and `member` (the
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
        guard var metadata = clusterRefusalLogMetadata(from: sender.host) else { return false }
        metadata["from"] = "\(sender)"
        metadata["cluster"] = "\(ours.name)"
        metadata["their_cluster"] = "\(label)"
        configuration.logger.warning("dropped a \(what) from another cluster: it is labelled \(label.debugDescription), "
                                     + "this member's cluster is \(ours.name.debugDescription)", metadata: metadata)
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
        guard var metadata = clusterRefusalLogMetadata(from: destination.host) else { return }
        metadata["peer"] = "\(destination)"
        metadata["error"] = "\(error.detail)"
        configuration.logger.warning("push-pull with a member of another cluster", metadata: metadata)
    }

    /// Nil when a refusal from `host` is not to be logged now (one line a minute per source
    /// host, `clusterRefusalLog`); else the line's metadata so far: `suppressed`, the number of
    /// refusals from the host held back since its last line, when there were any.
    private func clusterRefusalLogMetadata(from host: String) -> Logger.Metadata? {
        let (log, suppressed) = clusterRefusalLog.shouldLog(host, at: now())
        guard log else { return nil }
        return suppressed > 0 ? ["suppressed": "\(suppressed)"] : [:]
    }
}
