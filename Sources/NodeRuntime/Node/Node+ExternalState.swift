import DiscoCore
import Synchronization

// MARK: - State kept outside the node (-consensus etcd)

extension Node {
    /// Waits until the consensus engine knows whether this node has state: with etcd, until it
    /// has read the cluster's key once. A node whose data directory records that it is part of
    /// that cluster (`etcd-member.json`) waits as long as it takes, retrying: exiting would take
    /// a member away. Any other node (a first start) gives up after `-bootstrap-expect-timeout`
    /// like a formation that timed out (exit 1), naming etcd's endpoints and the last error.
    /// Returns how much of that timeout the wait used (zero for a member), so that formation
    /// as a whole stays within it.
    func awaitConsensusState() async throws -> Duration {
        guard !consensus.status.stateKnown else { return .zero }
        guard let external = consensus.externalState else {
            setFormation(.starting, "waiting for the consensus engine to read this node's state")
            return .zero
        }
        let member = directory.recordsEtcdMembership(key: external.key)
        let timeout = configuration.formation.bootstrapExpectTimeout
        let limit: Duration? = member || timeout <= .zero ? nil : timeout
        let started = ContinuousClock.now
        setFormation(.starting, Self.waitDetail(external, member: member, limit: limit))
        while !Task.isCancelled, !isStopping {
            let status = consensus.status
            guard !status.stateKnown, !status.isStopped, status.failure == nil, let current = consensus.externalState else { break }
            if let limit, ContinuousClock.now - started >= limit {
                throw failure("no cluster formed or joined within -bootstrap-expect-timeout \(limit): could not read \(current.location) "
                    + "(-consensus-config) to learn whether a cluster exists under \(current.key) (\(Self.attempts(current))); "
                    + "check that etcd is running and that this node reaches it at those endpoints")
            }
            runtime.withLock { state in
                if state.formation == .starting { state.formationDetail = Self.waitDetail(current, member: member, limit: limit) }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        if Task.isCancelled || isStopping { throw CancellationError() }
        return member ? .zero : ContinuousClock.now - started
    }

    /// What the node waits for, for `/status` (`bootstrap.detail`) and `/readyz`.
    static func waitDetail(_ external: ExternalStateStatus, member: Bool, limit: Duration?) -> String {
        let why = member
            ? "this data directory records that the node is part of that cluster (etcd-member.json), so it waits as long as it takes"
            : limit.map { "a first start: it gives up after -bootstrap-expect-timeout \($0)" } ?? "a first start"
        return "waiting for \(external.location) to read this node's state under \(external.key); \(why) (\(attempts(external)))"
    }

    /// `12 reads failed; last error: …`.
    static func attempts(_ external: ExternalStateStatus) -> String {
        "\(external.failedReads) \(external.failedReads == 1 ? "read" : "reads") failed; last error: \(external.lastError ?? "none yet")"
    }

    /// With an engine whose state lives outside the node, records in the data directory (once per
    /// start) that this node is part of the cluster: started again while etcd is unreachable, it
    /// then waits for etcd instead of giving up.
    func recordMembership() {
        guard let external = consensus.externalState else { return }
        let first = runtime.withLock { state in
            defer { state.membershipRecorded = true }
            return !state.membershipRecorded
        }
        guard first else { return }
        do {
            try directory.recordEtcdMembership(key: external.key, endpoints: external.endpoints, epoch: store.epoch)
        } catch {
            logger.warning("cannot record this node's membership in \(directory.etcdMembershipPath): \(error); "
                + "started again while etcd is unreachable, it will give up after -bootstrap-expect-timeout")
        }
    }
}
