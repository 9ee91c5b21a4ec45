import DiscoCore

// MARK: - A member removed while it was stopped (state kept outside the node)

extension Node {
    /// With an engine whose state lives outside the node (etcd): a node started again whose data
    /// directory records it as a member of the cluster under its key (`etcd-member.json`,
    /// `"state":"member"`), and whose engine shows no state for it, reads etcd's membership now.
    /// When the cluster there is the one the record names (the `cluster` key's create revision
    /// and id; a record without them, written by an earlier version or unreadable, counts as that
    /// cluster) and its membership does not name this node, the node was removed while it was
    /// stopped. It learns it as a node of the embedded Raft engine does when a leader answers its
    /// rejoin 410: it records `removed.json`, logs it naming etcd and the key, answers `/readyz`
    /// 503 and exits 1 after its linger. Returns true then.
    ///
    /// Anything else is no removal, and the node forms as before:
    /// - etcd holds no cluster under the key (etcd lost its data, or the keys were deleted): the
    ///   cluster the node belonged to is gone;
    /// - etcd holds another cluster there, created later under the same key: one this node never
    ///   belonged to. It joins or forms with it as a first start, as a node with a fresh data
    ///   directory would: with etcd the old cluster's log lived in etcd and went with it, so
    ///   nothing of it in this node could mix with the new one (the embedded Raft engine refuses
    ///   such a node because its Raft log would);
    /// - the membership names this node (its watch had not delivered that yet).
    ///
    /// A `"joining"` record (a node stopped while it bootstrapped or joined) is no member's: that
    /// node may never have been accepted, so it is not taken for a removed one. While etcd cannot
    /// be read, this waits (the node recorded that it is a member: exiting would take it away).
    func learnRemovalWhileStopped() async throws -> Bool {
        guard let external = consensus.externalState, directory.etcdMembership(key: external.key) == .member else { return false }
        let recorded = directory.etcdMemberCluster(key: external.key)
        setFormation(.rejoining, "restarting as a member of the cluster under \(external.key) (\(directory.etcdMembershipPath)); "
            + "reading its membership in \(external.location)")
        let reading = try await readExternalClusterUntilAnswered()
        let source = "the membership under \(external.key) in \(external.location)"
        guard let current = reading.cluster else {
            logger.notice("\(directory.etcdMembershipPath) records this node as a member of the cluster under \(external.key)"
                + "\(recorded.map { " (\($0))" } ?? ""), but \(external.location) holds no cluster there now: that cluster is gone "
                + "(etcd lost its data, or its keys were deleted); forming as a first start")
            return false
        }
        guard !reading.namesThisNode else { return false }
        if let recorded, !recorded.isSameCluster(as: current) {
            logger.warning("\(directory.etcdMembershipPath) records this node as a member of the cluster under \(external.key) "
                + "(\(recorded)), but the cluster there now is another one (\(current)), created later under the same key, and "
                + "\(source) does not name this node: the cluster it belonged to is gone; forming as a first start")
            return false
        }
        logger.error("\(source) does not name this node, which \(directory.etcdMembershipPath) records as a member of that cluster "
            + "(\(current)): it was removed while it was stopped")
        await noticeRemoval(RemovalNotice(reportedBy: nil, configIndex: 0), readFrom: source)
        return true
    }

    /// Reads etcd's membership under the key, again every 200 ms while etcd does not answer.
    private func readExternalClusterUntilAnswered() async throws -> ExternalMembershipReading {
        var failures = 0
        while !Task.isCancelled, !isStopping {
            if let reading = await consensus.readExternalCluster() { return reading }
            failures += 1
            if failures == 1 || failures % 50 == 0, let external = consensus.externalState {
                logger.warning("cannot read \(external.location) to learn whether it still names this node "
                    + "(\(failures) \(failures == 1 ? "attempt" : "attempts"); last error: \(external.lastError ?? "none recorded")); retrying")
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        throw CancellationError()
    }
}
