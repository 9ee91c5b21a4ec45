import Bootstrap
import DiscoCore
import Synchronization

// MARK: - -bootstrap-expect

extension Node {
    /// Runs the bootstrap engine: join if a cluster answers, else notify every target until
    /// `-bootstrap-expect` voters know each other, then exactly one of them bootstraps. `waited`
    /// is the part of `-bootstrap-expect-timeout` already spent (waiting for etcd).
    func runBootstrapEngine(waited: Duration = .zero) async throws {
        guard configuration.formation.bootstrapExpect > 0 else {
            // dns or dns-srv without an expect value: the discovered nodes form the cluster; join it.
            return try await joinCluster(reason: "discovering the cluster through \(configuration.formation.discovery?.mode.rawValue ?? "-join")") {
                [self] in await lookupTargets()
            }
        }
        var engine = BootstrapEngine.Settings(
            me: localPeer, cluster: configuration.cluster.name, expect: configuration.formation.bootstrapExpect,
            selfAddresses: [apiAddress, configuration.api.bindAddress.withoutScheme, configuration.api.effectiveAdvertisedAddress.withoutScheme])
        if configuration.formation.bootstrapExpectTimeout > .zero {
            engine.timeout = max(.milliseconds(1), configuration.formation.bootstrapExpectTimeout - waited)
        }
        var shellConfiguration = BootstrapShell.Configuration(
            settings: engine, seed: UInt64.random(in: 0...UInt64.max), promiseFile: PromiseFile(path: directory.promisePath),
            joinRequest: JoinRequest(node: localPeer, cluster: configuration.cluster.name, nodeKey: nodeKeyText))
        shellConfiguration.notifyTimeout = configuration.formation.notifyTimeout
        shellConfiguration.requestTimeout = configuration.formation.connectTimeout
        let hooks = BootstrapShell.Hooks(
            lookup: { [self] in await lookupResult() },
            bootstrap: { [self] voters in
                voters.forEach { learn($0, source: .proposal) }
                try await consensus.bootstrap(voters: voters.map(\.id))
            },
            onPeer: { [self] peer in learn(peer, source: .notify) })
        let shell: BootstrapShell
        do {
            shell = try BootstrapShell(configuration: shellConfiguration, hooks: hooks, client: formationClient,
                                       logger: logger.withLabel("bootstrap"))
        } catch {
            throw failure("\(error)")
        }
        runtime.withLock { $0.bootstrap = shell }
        setFormation(.bootstrapping, "waiting for \(configuration.formation.bootstrapExpect) voters (-bootstrap-expect) in cluster "
            + "\(configuration.cluster.name.debugDescription)")
        do {
            let outcome = try await shell.run()
            switch outcome {
            case .timedOut:
                let progress = shell.progress
                let problem = progress.configurationProblem.map { "; the last configuration problem seen: \($0)" } ?? ""
                if let promise = progress.unresolvedPromise {
                    throw failure("no cluster formed or joined within -bootstrap-expect-timeout \(GoDuration.format(configuration.formation.bootstrapExpectTimeout)): "
                        + "\(promise)\(problem)")
                }
                throw failure("no cluster formed or joined within -bootstrap-expect-timeout \(GoDuration.format(configuration.formation.bootstrapExpectTimeout)); "
                    + "check that \(configuration.formation.bootstrapExpect) nodes are started with the same -bootstrap-expect and can reach each other"
                    + problem)
            case .bootstrapped:
                setFormation(.clustered, "bootstrapped the cluster as its proposer")
            case .joined:
                setFormation(.clustered, "joined the existing cluster")
            case .clustered, .existingState:
                setFormation(.clustered, "part of the cluster")
            }
            introduceToGossip(shell.progress.knownVoters)
        } catch let error as CancellationError {
            throw error
        } catch let error as NodeFailure {
            throw error
        } catch {
            throw failure("bootstrap failed: \(error)")
        }
    }

    /// Bootstrap rounds run so far (for /status and /metrics).
    var bootstrapRounds: Int { runtime.withLock { $0.bootstrap }?.progress.rounds ?? 0 }
}
