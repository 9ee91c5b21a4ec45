import Bootstrap
import DiscoCore
import DiscoDiscovery
import Synchronization
import DiscoNet

// MARK: - Cluster formation

extension Node {
    /// Forms or reaches the cluster, in DESIGN order: existing state → rejoin; `-join` without
    /// expect → join; `-join`/dns/dns-srv with expect → bootstrap engine; consul-kv/etcd-kv →
    /// register in the KV store; nothing → single-node cluster.
    func form() async throws {
        // On a first start, time spent waiting for etcd counts against -bootstrap-expect-timeout.
        let waited = try await awaitConsensusState()
        await consensus.settleExistingState(within: configuration.formation.connectTimeout * 5)
        if consensus.status.hasState {
            setFormation(.rejoining, "restarting with existing Raft state; looking for the other members")
            try await rejoin()
            return
        }
        // With etcd: a member whose cluster no longer names it was removed while it was stopped.
        if try await learnRemovalWhileStopped() { return }
        // With etcd: from here on etcd may accept this node before it hears so.
        try recordJoiningIntent()
        do {
            try await formWithoutState(waited: waited)
        } catch let error as NodeFailure {
            await settleJoiningIntent()
            throw error
        }
    }

    /// Forms or reaches the cluster as a node without state, in the order of ``form()``.
    private func formWithoutState(waited: Duration) async throws {
        switch configuration.formation.plan {
        case .singleNode:
            guard configuration.cluster.voter else {
                throw failure("a non-voter (-raft-non-voter) cannot form a cluster by itself; give -join or -disco-mode")
            }
            try await bootstrap(voters: [localPeer], reason: "no -join and no -disco-mode: forming a single-node cluster")
        case .join:
            try await joinCluster(reason: "joining through -join \(configuration.formation.join.map(\.url).joined(separator: ","))") { [configuration] in
                configuration.formation.join
            }
        case .bootstrapExpect:
            try await runBootstrapEngine(waited: waited)
        case .keyValueRegistration:
            try await registerInKeyValueStore(waited: waited)
        }
    }

    /// The client for join, notify and bootstrap requests, sending the `-join-as` credentials.
    var formationClient: BootstrapClient { BootstrapClient(http: client, authorization: joinCredentials, apiScheme: apiScheme) }

    func setFormation(_ state: FormationState, _ detail: String?) {
        runtime.withLock {
            $0.formation = state
            $0.formationDetail = detail
        }
        if let detail { logger.info("formation: \(detail)") }
        if state == .clustered { recordMembership() }
    }

    /// Creates the cluster with these voters (this node among them) and records their addresses.
    func bootstrap(voters: [BootstrapPeer], reason: String) async throws {
        voters.forEach { learn($0, source: .proposal) }
        do {
            try await consensus.bootstrap(voters: voters.map(\.id))
        } catch {
            // A node told to stop while it bootstraps stops; that is no bootstrap failure.
            if isStopping || Task.isCancelled { throw CancellationError() }
            throw failure("cannot bootstrap the cluster: \(error)")
        }
        setFormation(.clustered, "\(reason); bootstrapped with voters [\(voters.map(\.id.rawValue).joined(separator: ", "))]")
        introduceToGossip(voters.filter { $0.id != id })
    }

    // MARK: Join

    /// Tries `POST /join` on the targets up to `-join-attempts` times, `-join-interval` apart
    /// (the targets are looked up again for every attempt).
    func joinCluster(reason: String, targets: @escaping @Sendable () async -> [PeerAddress]) async throws {
        setFormation(.joining, reason)
        do {
            try await joinAttempts(targets: targets)
        } catch let error as CancellationError {
            throw error
        } catch let error as JoinError where error.code == .refused {
            throw failure("join refused: \(error.detail)")
        } catch {
            throw failure("could not join the cluster (-join-attempts \(configuration.formation.joinAttempts)): \(error)")
        }
    }

    /// One run of `-join-attempts` joins; throws ``JoinError`` when they all failed.
    func joinAttempts(targets: @escaping @Sendable () async -> [PeerAddress]) async throws {
        let joiner = Joiner(client: formationClient, attempts: configuration.formation.joinAttempts, interval: configuration.formation.joinInterval,
                            timeout: configuration.formation.connectTimeout, logger: logger)
        let request = JoinRequest(node: localPeer, cluster: configuration.cluster.name, nodeKey: nodeKeyText)
        let accepted = try await joiner.join(request: request) { [apiAddress] in
            await targets().filter { $0.withoutScheme != apiAddress }
        }
        learn(accepted.leader.peer, source: .join)
        runtime.withLock { $0.joinedEpoch = accepted.epoch == 0 ? nil : accepted.epoch }
        setFormation(.clustered, "joined cluster \(accepted.cluster.debugDescription) (epoch \(accepted.epoch)); "
            + "leader \(accepted.leader.id)")
        introduceToGossip([accepted.leader.peer])
    }

    // MARK: Rejoin

    /// A node with state: Raft resumes by itself once peers are reachable. Until a leader is
    /// known, tell every target and every remembered member where this node is now (notify),
    /// and learn where they are: so a cluster restarted on new addresses re-forms.
    func rejoin() async throws {
        var delay: Duration = .milliseconds(100)
        let bootstrapClient = formationClient
        let problems = Mutex(FormationProblems())
        let started = ContinuousClock.now
        // Configuration problems are warnings (each once, then at most every 30 s); the rest is transient.
        let report: @Sendable (BootstrapClientError) -> Void = { [logger] problem in
            guard problem.code.isConfigurationProblem else { return logger.debug("rejoin: \(problem)") }
            if let warning = problems.withLock({ $0.record(problem, now: ContinuousClock.now - started) }) {
                logger.warning("rejoin: \(warning)")
            } else {
                logger.debug("rejoin: \(problem)")
            }
        }
        while !isStopping, !Task.isCancelled {
            if consensus.status.leader != nil {
                setFormation(.clustered, "rejoined the cluster; leader \(consensus.status.leader?.rawValue ?? "?")")
                return
            }
            var targets = Set(await lookupTargets().map(\.withoutScheme))
            for (member, entry) in book.all where member != id { targets.insert(entry.apiAddress) }
            targets.remove(apiAddress)
            // The node key proves this node is the member it names if it came back on new addresses.
            let request = NotifyRequest(sender: localPeer, cluster: clusterName, expect: max(1, configuration.formation.bootstrapExpect), known: [],
                                        nodeKey: nodeKeyText)
            await withTaskGroup(of: Void.self) { group in
                for target in targets {
                    group.addTask { [self] in
                        switch await bootstrapClient.notifyResult(target, request, timeout: configuration.formation.notifyTimeout) {
                        case .success(.clustered(let responder)), .success(.forming(let responder, _)): learn(responder, source: .notify)
                        case .success(.mismatch(let message)):
                            report(BootstrapClientError(.refused, target: target.withoutScheme.description, detail: "refused our notify: \(message)"))
                        case .failure(let error): report(error)
                        }
                    }
                }
            }
            introduceToGossip([])
            // Ask to be (re)admitted with our epoch: a leader refuses a node whose state belongs to
            // another incarnation of the cluster, and records new addresses of a member that moved.
            if let epoch = store.epoch, consensus.status.leader == nil, !targets.isEmpty {
                let join = JoinRequest(node: localPeer, cluster: clusterName, epoch: epoch, nodeKey: nodeKeyText)
                let joined = await bootstrapClient.join(targets: targets.sorted(), request: join, timeout: configuration.formation.notifyTimeout)
                if case .failed(let failures) = joined { failures.forEach(report) }
                if case .refused(let error) = joined {
                    if error.code == .unauthorized {
                        throw failure("rejoin: \(error.target) refused this node's credentials (a member that cannot prove itself "
                            + "with its node key needs -join-as with the join permission): \(error.detail)")
                    }
                    guard error.code == .removed else {
                        throw failure("this node's data belongs to another cluster: \(error.target) answered: \(error.detail)")
                    }
                    logger.error("rejoin: \(error.target) answered that this node is no longer a member: \(error.detail)")
                    return await noticeRemoval(RemovalNotice(reportedBy: nil, configIndex: 0))
                }
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(2))
        }
    }

    /// Asks SWIM to exchange state with these peers and every member in the address book (the
    /// gossip introducer service contacts them, one join at a time).
    func introduceToGossip(_ peers: [BootstrapPeer]) {
        var seeds = Set(peers.compactMap { try? PeerAddress(parsing: $0.raftAddress) })
        for (member, entry) in book.all where member != id { seeds.insert(entry.raftAddress) }
        guard !seeds.isEmpty else { return }
        gossipSeedSink.yield(Array(seeds))
    }

    // MARK: Discovery

    /// The discovery layer for `-disco-mode`, if any. DNS answers are kept for their TTL.
    func discovery() -> Discovery? {
        guard let discovery = configuration.formation.discovery else { return nil }
        return Discovery(config: discovery.config, discoKey: discovery.key, defaultPort: configuration.api.bindAddress.port, transport: client,
                         cacheDNSAnswers: true)
    }

    /// The address provider, built on first use and kept for the node's lifetime, so its DNS
    /// cache carries over from round to round; KV modes read the node's one leader registry.
    func addressProvider(_ discovery: Discovery) throws -> any AddressProvider {
        if let existing = runtime.withLock({ $0.addressProvider }) { return existing }
        let made: any AddressProvider = discovery.config.mode.usesKeyValueStore
            ? LeaderRecordAddressProvider(registry: try leaderRegistry()) : try discovery.addressProvider()
        return runtime.withLock { state in
            if let existing = state.addressProvider { return existing }
            state.addressProvider = made
            return made
        }
    }

    /// One lookup of formation targets: `-join` addresses, or what discovery returns now.
    func lookupTargets() async -> [PeerAddress] {
        switch await lookupResult() {
        case .success(let targets): return targets
        case .failure: return configuration.formation.join
        }
    }

    func lookupResult() async -> Result<[PeerAddress], DiscoveryLookupFailure> {
        guard let discovery = discovery() else {
            runtime.withLock { $0.discoveryTargets = configuration.formation.join }
            return .success(configuration.formation.join)
        }
        do {
            let provider = try addressProvider(discovery)
            let found = try await provider.lookup()
            runtime.withLock {
                $0.discoveryTargets = found
                $0.discoveryError = nil
            }
            return .success(found)
        } catch {
            let message = "\(error)"
            runtime.withLock { $0.discoveryError = message }
            return .failure(DiscoveryLookupFailure(message))
        }
    }
}
