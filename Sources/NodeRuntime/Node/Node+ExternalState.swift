import Bootstrap
import BootstrapCore
import DiscoCore
import Synchronization

// MARK: - State kept outside the node (-consensus etcd)

extension Node {
    /// Waits until the consensus engine knows whether this node has state: with etcd, until it
    /// has read the cluster's key once. A node whose data directory records that it is part of
    /// that cluster (`etcd-member.json`), or that it asked to bootstrap or join it and may be
    /// part of it (an intent, `"state":"joining"`), waits as long as it takes, retrying: exiting
    /// would take a member away. Any other node (a first start) gives up after
    /// `-bootstrap-expect-timeout` like a formation that timed out (exit 1), naming etcd's
    /// endpoints and the last error. Returns how much of that timeout the wait used (zero for a
    /// node that waits without limit), so that formation as a whole stays within it.
    ///
    /// The wait ends at etcd's first answer, whatever it says: from there etcd's membership
    /// decides. So an intent never makes nodes wait for each other. Nodes that were all stopped
    /// (SIGTERM or kill -9) while forming, before etcd held a cluster, wait for etcd when started
    /// again, find that it names none of them, and form as first starts; a promise to a proposal
    /// its proposer never bootstrapped is released, because the proposer, started again, disowns
    /// it once etcd says it has no state (`GET /bootstrap/status` answers "abandoned"). A node
    /// whose bootstrap or join etcd accepted is named in etcd's configuration and rejoins.
    func awaitConsensusState() async throws -> Duration {
        guard !consensus.status.stateKnown else { return .zero }
        guard let external = consensus.externalState else {
            setFormation(.starting, "waiting for the consensus engine to read this node's state")
            return .zero
        }
        let standing = directory.etcdMembership(key: external.key)
        let promise = standing == .none ? outstandingPromise() : nil
        let waits = standing.waitsForEtcd || promise != nil
        let timeout = configuration.formation.bootstrapExpectTimeout
        let limit: Duration? = waits || timeout <= .zero ? nil : timeout
        let started = ContinuousClock.now
        setFormation(.starting, Self.waitDetail(external, standing: standing, promise: promise, limit: limit))
        while !Task.isCancelled, !isStopping {
            let status = consensus.status
            guard !status.stateKnown, !status.isStopped, status.failure == nil, let current = consensus.externalState else { break }
            if let limit, ContinuousClock.now - started >= limit {
                throw failure("no cluster formed or joined within -bootstrap-expect-timeout \(GoDuration.format(limit)): could not read \(current.location) "
                    + "(-consensus-config) to learn whether a cluster exists under \(current.key) (\(Self.attempts(current))); "
                    + "check that etcd is running and that this node reaches it at those endpoints")
            }
            runtime.withLock { state in
                if state.formation == .starting { state.formationDetail = Self.waitDetail(current, standing: standing, promise: promise, limit: limit) }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        if Task.isCancelled || isStopping { throw CancellationError() }
        return waits ? .zero : ContinuousClock.now - started
    }

    /// A `-bootstrap-expect` promise for this cluster in the data directory (kept after the
    /// cluster formed, released only when its proposal was abandoned): a proposer may have
    /// created the cluster with this node among its voters. Every formation since there were
    /// intents records one first, so a promise without a record is a data directory from before
    /// `etcd-member.json` (or a record lost since).
    func outstandingPromise() -> ProposalID? {
        guard let promise = try? PromiseFile(path: directory.promisePath).load(), promise.cluster == configuration.cluster.name else { return nil }
        return promise.id
    }

    /// What the node waits for, for `/status` (`bootstrap.detail`) and `/readyz`.
    static func waitDetail(_ external: ExternalStateStatus, standing: EtcdMembershipStanding, promise: ProposalID? = nil, limit: Duration?) -> String {
        let why = switch (standing, promise) {
        case (.member, _): "this data directory records that the node is part of that cluster (etcd-member.json), so it waits as long as it takes"
        case (.joining, _): "this data directory records that the node asked to bootstrap or join that cluster and did not learn the outcome "
            + "(etcd-member.json, state \"joining\"): it may be a member, so it waits as long as it takes"
        case (.none, let promise?): "this data directory holds no etcd-member.json but a -bootstrap-expect promise to proposal \(promise) "
            + "(bootstrap-promise.json): the cluster may have been created with this node, so it waits as long as it takes"
        case (.none, nil): limit.map { "a first start: it gives up after -bootstrap-expect-timeout \(GoDuration.format($0))" } ?? "a first start"
        }
        return "waiting for \(external.location) to read this node's state under \(external.key); \(why) (\(attempts(external)))"
    }

    /// `12 reads failed; last error: …`.
    static func attempts(_ external: ExternalStateStatus) -> String {
        "\(external.failedReads) \(external.failedReads == 1 ? "read" : "reads") failed; last error: \(external.lastError ?? "none yet")"
    }

    /// With an engine whose state lives outside the node, records in the data directory (once per
    /// start) that this node is part of the cluster, replacing the intent written before it asked
    /// to be: started again while etcd is unreachable, it then waits for etcd instead of giving up.
    /// The record names the cluster's identity (``ExternalStateStatus/cluster``), so that a restart
    /// tells its removal while stopped from a cluster created later under the same key; written
    /// before the engine had read it, the record is written again once it has
    /// (``completeMembershipRecord()``).
    func recordMembership() {
        guard let external = consensus.externalState else { return }
        let cluster = external.cluster
        let write = runtime.withLock { state -> Bool in
            guard !state.membershipRecorded || (state.recordedCluster == nil && cluster != nil) else { return false }
            state.membershipRecorded = true
            state.recordedCluster = cluster
            return true
        }
        guard write else { return }
        do {
            try directory.recordEtcdMembership(key: external.key, endpoints: external.endpoints, epoch: store.epoch, cluster: cluster)
        } catch {
            logger.warning("cannot record this node's membership in \(directory.etcdMembershipPath): \(error); "
                + "started again while etcd is unreachable, it will give up after -bootstrap-expect-timeout")
        }
    }

    /// In every reconcile round: a member's record written before the engine knew the cluster's
    /// identity is written again, naming it, once the engine shows this node a member of it.
    func completeMembershipRecord() {
        guard let external = consensus.externalState, external.cluster != nil, consensus.status.hasState else { return }
        let incomplete = runtime.withLock { $0.formation == .clustered && $0.membershipRecorded && $0.recordedCluster == nil }
        if incomplete { recordMembership() }
    }

    /// Before a node without state asks anyone to bootstrap or join (with etcd): etcd may accept
    /// it before the node hears so, so it records the intent first (file and directory synced),
    /// and a crash in between leaves a node that waits for etcd at its next start. An intent left
    /// by an earlier start that etcd did not accept is replaced (and said so). A node that cannot
    /// write the record does not go on: it could become a member that a restart takes away.
    func recordJoiningIntent() throws {
        guard let external = consensus.externalState else { return }
        if directory.etcdMembership(key: external.key) == .joining {
            logger.notice("\(directory.etcdMembershipPath) recorded a bootstrap or join that did not complete: etcd's membership "
                + "under \(external.key) does not name this node; forming as a first start")
        }
        do {
            try directory.recordEtcdJoining(key: external.key, endpoints: external.endpoints, cluster: configuration.cluster.name)
        } catch {
            throw failure("cannot record in \(directory.etcdMembershipPath) that this node is joining the cluster under \(external.key) "
                + "before it asks to (\(error)); without that record a restart while etcd is unreachable could take a member away")
        }
    }

    /// After a formation that failed: an intent stays only while this node may be a member. When
    /// etcd answers that its membership does not name this node, and no bootstrap proposal holds
    /// this node's promise (a proposer could still create the cluster with it), the record goes,
    /// and the next start is a first start again; when etcd names it, it becomes a member's record.
    func settleJoiningIntent() async {
        guard let external = consensus.externalState, directory.etcdMembership(key: external.key) == .joining else { return }
        switch await consensus.readExternalMembership() {
        case true?:
            recordMembership()
        case false?:
            if let promise = outstandingPromise() {
                logger.notice("\(directory.etcdMembershipPath) keeps its \"joining\" record: this node promised to bootstrap proposal "
                    + "\(promise), whose proposer may still create the cluster with it")
                return
            }
            do {
                try directory.removeEtcdMembershipRecord()
            } catch {
                logger.warning("cannot delete \(directory.etcdMembershipPath) (\(error)): started again while etcd is unreachable, "
                    + "this node waits for etcd as a node that may be a member")
            }
        case nil:
            logger.notice("\(directory.etcdMembershipPath) keeps its \"joining\" record: etcd could not be read to learn whether "
                + "this node became a member; started again while etcd is unreachable, it waits for etcd")
        }
    }
}
