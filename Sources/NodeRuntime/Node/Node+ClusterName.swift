import DiscoCore

// MARK: - The cluster a data directory belongs to

extension Node {
    /// Stops the node once the replicated state it recovered (or learns) names a cluster other
    /// than `-cluster-name`: a data directory of another cluster, or a changed flag. Such a node
    /// would serve as a member of the recorded cluster while its gossip, labelled with the
    /// flag's name, is refused by that cluster's members and theirs by it.
    func checkClusterName() async throws {
        // Subscribe before reading, so a name applied in between is not missed.
        let changes = store.changes()
        if try clusterNameRecorded() { return }
        for await _ in changes where try clusterNameRecorded() { return }
    }

    /// True once the replicated state names this node's cluster; throws when it names another.
    private func clusterNameRecorded() throws -> Bool {
        guard let recorded = store.cluster else { return false }
        let configured = configuration.cluster.name
        guard recorded == configured else {
            throw failure("the data directory \(directory.path) holds the state of cluster \(recorded.debugDescription), "
                + "but this node was started with -cluster-name \(configured); start it with -cluster-name \(recorded), "
                + "or give it a data directory of its own")
        }
        return true
    }
}
