import Bootstrap
import DiscoCore
import DiscoDiscovery
import Synchronization

// MARK: - KV registration (consul-kv, etcd-kv)

extension Node {
    /// This node's leader record, as rqlite writes it.
    var leaderRecord: LeaderRecord {
        LeaderRecord(id: id.rawValue, apiAddr: apiURL, addr: raftAddress.description)
    }

    /// The one registry (one Consul session / etcd lease) this node uses, created on first use.
    func leaderRegistry() throws -> any LeaderRegistry {
        if let existing = runtime.withLock({ $0.registry }) { return existing }
        guard let discovery = discovery(), let made = try discovery.leaderRegistry() else {
            throw NodeStartupError("-disco-mode \(configuration.formation.discovery?.mode.rawValue ?? "none") has no leader registry")
        }
        return runtime.withLock { state in
            if let existing = state.registry { return existing }
            state.registry = made
            return made
        }
    }

    /// Makes the keeper that holds the leader record while this node leads (consul-kv and
    /// etcd-kv); `run()` runs it as a service.
    func prepareRecordKeeper() {
        guard configuration.formation.discovery?.mode.usesKeyValueStore == true else { return }
        do {
            let registry = try leaderRegistry()
            let ttl = discovery()?.recordTTL ?? .seconds(10)
            let consensus = self.consensus
            let keeper = LeaderRecordKeeper(registry: registry, me: leaderRecord, settings: .init(ttl: ttl),
                                            logger: logger.withLabel("leader-record"), seed: UInt64.random(in: 0...UInt64.max),
                                            isMember: { id in NodeID(id).map { consensus.status.members.contains($0) } ?? false })
            runtime.withLock { $0.keeper = keeper }
        } catch {
            logger.error("leader record keeper not started: \(error)")
        }
    }

    /// Waits until a leader record naming this node, left by an earlier run of it, changes.
    ///
    /// This node has no Raft state, so the run that wrote the record is gone. If it led a cluster
    /// that lives on, that cluster's next leader replaces the record; bootstrapping now would
    /// start a second cluster beside it, and the two leaders would take the record from each
    /// other for good. So the node waits until the record names another node (then joins it) or
    /// expires with the earlier run's session or lease (then creates it and bootstraps).
    private func awaitReplacement(ofOwn record: VersionedLeaderRecord, in registry: any LeaderRegistry,
                                  started: ContinuousClock.Instant, timeout: Duration?) async throws {
        setFormation(.registering, "the leader record at \(registry.name) names this node (version \(record.version)), "
            + "written by an earlier run whose Raft state this node no longer has; waiting until the cluster's new leader "
            + "replaces it or it expires")
        while true {
            var wait = Duration.seconds(5)
            if let timeout {
                let remaining = timeout - (ContinuousClock.now - started)
                guard remaining > .zero else {
                    throw failure("the leader record at \(registry.name) still names this node, left by an earlier run, after "
                        + "-bootstrap-expect-timeout \(GoDuration.format(timeout)): no leader replaced it and it did not expire "
                        + "(delete the record to start a new cluster from this node)")
                }
                wait = min(wait, remaining)
            }
            do {
                let seen = try await registry.watch(after: record.version, timeout: wait)
                if seen?.version != record.version { return }
                // A blocking read may return without a change (Consul: "returning is no
                // guarantee of a change"); pace the reads rather than ask without pause.
                try await Task.sleep(for: .milliseconds(250))
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                logger.warning("watching the leader record at \(registry.name) failed (will retry): \(error)")
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Reads the leader record: none → create it and bootstrap alone; another node's → join it.
    /// `waited` is the part of `-bootstrap-expect-timeout` already spent (waiting for etcd).
    func registerInKeyValueStore(waited: Duration = .zero) async throws {
        let registry: any LeaderRegistry
        do {
            registry = try leaderRegistry()
        } catch {
            throw failure("\(error)")
        }
        let timeout = configuration.formation.bootstrapExpectTimeout > .zero ? configuration.formation.bootstrapExpectTimeout : nil
        let started = ContinuousClock.now - waited
        do {
            while true {
                setFormation(.registering, "reading the leader record at \(registry.name)")
                let elapsed = ContinuousClock.now - started
                let retry = KVRetryPolicy(deadline: timeout.map { max(.zero, $0 - elapsed) })
                let registration = KVRegistration(registry: registry, me: leaderRecord, voter: configuration.cluster.voter, retry: retry,
                                                  logger: logger.withLabel("kv-registration"), seed: UInt64.random(in: 0...UInt64.max))
                switch try await registration.register() {
                case .bootstrapSingle:
                    try await bootstrap(voters: [localPeer], reason: "created the leader record at \(registry.name)")
                    return
                case .ownRecord(let record):
                    try await awaitReplacement(ofOwn: record, in: registry, started: started, timeout: timeout)
                    continue
                case .join(let leaderAPI, let record):
                    setFormation(.joining, "the leader record at \(registry.name) names \(record.record.id) at \(leaderAPI.url)")
                    do {
                        // Each attempt re-reads the record (lookupTargets): leadership may have moved.
                        try await joinAttempts { [self] in await lookupTargets() }
                        return
                    } catch let error as JoinError where error.code == .failed {
                        // The record may be left over from a cluster that is gone: it expires with
                        // its session or lease, and registering again then creates it.
                        guard let timeout, ContinuousClock.now - started >= timeout else {
                            logger.warning("could not join through the leader record at \(registry.name) (\(error.detail)); reading it again")
                            continue
                        }
                        throw failure("could not join the cluster through the leader record at \(registry.name) within "
                            + "-bootstrap-expect-timeout \(GoDuration.format(timeout)): \(error.detail)")
                    }
                }
            }
        } catch let error as JoinError where error.code == .refused {
            throw failure("join refused: \(error.detail)")
        } catch let error as CancellationError {
            throw error
        } catch let error as NodeFailure {
            throw error
        } catch {
            throw failure("cannot register in \(registry.name): \(error)")
        }
    }
}
