import Bootstrap
import DiscoCore
import DiscoLifecycle
import DiscoNet
import Synchronization

// MARK: - NodeFailure

/// Why a node stopped on its own (formation gave up, consensus state could not be trusted, it
/// was removed). The node has logged it; a program exits with ``exitStatus``.
public struct NodeFailure: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let exitStatus: Int32

    public init(_ message: String, exitStatus: Int32 = 1) {
        self.message = message
        self.exitStatus = exitStatus
    }

    public var description: String { message }
}

// MARK: - Running and stopping

extension Node {
    /// Runs the node until it is asked to shut down gracefully (by its group or ``shutdown()``)
    /// or fails: formation, reconciliation, the watchers and the roles run as services of one
    /// group owned here. A graceful stop asks them to finish in reverse order: the loops stop, a
    /// leader hands leadership over, the node leaves SWIM, Raft flushes, and the HTTP API drains
    /// last. Throws ``NodeFailure`` when the node stopped on its own. Runs once.
    public func run() async throws {
        let first = runtime.withLock { state -> Bool in
            defer { state.ran = true }
            return !state.ran
        }
        guard first else { throw NodeFailure("node \(id) has already run; start a new node") }
        var configuration = ServiceGroupConfiguration(services: services(), logger: logger.withLabel("node-services"))
        configuration.maximumCancellationDuration = nil
        let group = ServiceGroup(configuration: configuration)
        stopRequest.install { group.triggerGracefulShutdown() }
        var failure: (any Error)?
        do {
            try await group.run()
        } catch {
            failure = error
        }
        await client.shutdown()
        directory.release()
        logger.info("stopped")
        if let failure { throw failure }
    }

    /// Asks ``run()`` to stop gracefully (at once when it starts later). Returns at once.
    public func shutdown() {
        stopRequest.request()
    }

    var isStopping: Bool { runtime.withLock { $0.stopping } }

    /// Records a fatal error (formation gave up): `/status` shows it, the log says it, and the
    /// returned error, thrown from a service, stops the node with exit status 1.
    func failure(_ message: String) -> NodeFailure {
        runtime.withLock {
            $0.formation = .failed
            $0.formationDetail = message
        }
        logger.error(message)
        return NodeFailure(message)
    }

    // MARK: Services

    /// The node's services in start order; they stop in reverse order.
    private func services() -> [ServiceGroupConfiguration.ServiceEntry] {
        typealias Entry = ServiceGroupConfiguration.ServiceEntry
        var entries: [Entry] = [
            // Started first, stopped last: the API answers while leadership is handed over.
            Entry(ServiceFunction { [self] in
                try? await gracefulShutdown()
                // Long polls answer now (with what there is), not cut off after the grace period.
                longPolls.endAll()
                await runtime.withLock { $0.httpServer }?.shutdown(gracePeriod: .seconds(2))
                await completingRequests.close()
            }, name: "http-api"),
            Entry(ServiceFunction { [self] in
                try? await gracefulShutdown()
                await consensus.shutdown(transferLeadership: !Task.isCancelled)
                await membership.leave()
                await membership.shutdown()
            }, name: "engines"),
        ]
        if let keeper = runtime.withLock({ $0.keeper }) {
            entries.append(Entry(ServiceFunction { [self] in
                await keeper.leadershipChanged(isLeader: consensus.status.isLeader)
                try? await gracefulShutdown()
                await keeper.shutdown()
            }, name: "leader-record"))
        }
        entries += [
            loop("gossip-introducer") { [self] in await introduceToGossipInTurn() },
            loop("leadership") { [self] in try await watchLeadership() },
            loop("cluster-name") { [self] in try await checkClusterName() },
            loop("gossip-addresses") { [self] in await watchMembership() },
            loop("replicated-members") { [self] in await watchReplicatedMembers() },
            loop("reconciliation") { [self] in await reconcileLoop() },
            loop("formation") { [self] in try await form() },
            loop("tls-files") { [self] in if !tls.stores.isEmpty { await watchTLSFiles() } },
            Entry(ServiceFunction { [self] in try await stopAfterRemoval() }, name: "removal"),
            roleRequirementsService(),
        ]
        // The roles start after everything of the node's own (once -bootstrap-needs is met) and
        // are asked to stop first.
        entries.append(bootstrapNeedsService())
        entries += roleServices()
        entries += [
            // Started last, asked first: marks the node as stopping before anything else stops.
            Entry(ServiceFunction { [self] in
                try? await gracefulShutdown()
                runtime.withLock { $0.stopping = true }
                logger.info("shutting down")
                await handLeadershipOverBeforeRolesStop()
            }, name: "stopping"),
        ]
        return entries
    }

    /// A stopping leader hands leadership to another voter before its roles are asked to stop,
    /// not only when its engines stop after them: a role may take long to stop (a sidecar's proxy
    /// drains for up to `-proxy-drain-timeout`), and meanwhile the cluster needs a leader that
    /// stays (other sidecars send writes to the leader's; a hot/cold lease is granted by it).
    /// Bounded by an election timeout; on failure the engines try again when they stop.
    private func handLeadershipOverBeforeRolesStop() async {
        let status = consensus.status
        guard status.isLeader, status.voters.contains(where: { $0 != id }) else { return }
        do {
            let next = try await consensus.transferLeadership(to: nil)
            logger.info("stopping: handed leadership to \(next) before the roles stop")
        } catch {
            logger.info("stopping: leadership stays here until the engines stop: \(error)")
        }
    }

    /// A loop cancelled at graceful shutdown; its own end (formation done, a stream over) does not
    /// stop the node, its error does.
    private func loop(_ name: String, _ body: @escaping @Sendable () async throws -> Void) -> ServiceGroupConfiguration.ServiceEntry {
        ServiceGroupConfiguration.ServiceEntry(ServiceFunction {
            _ = try await cancelOnGracefulShutdown { try await body() }
        }, name: name, successTerminationBehavior: .ignore)
    }

    /// Once the node learns it was removed: it lingers (answering `/status` and `/readyz` with the
    /// reason), then stops with exit status 1.
    private func stopAfterRemoval() async throws {
        try await cancelOnGracefulShutdown { [self] in
            await removalNoticed.wait()
            guard !Task.isCancelled else { return }
            try await Task.sleep(for: configuration.timing.removedLinger)
            throw NodeFailure("node \(id) was removed from the cluster (\(removal?.reporter ?? "reported"))")
        }
    }

    /// Contacts the seeds handed to ``introduceToGossip(_:)``, one join at a time.
    private func introduceToGossipInTurn() async {
        for await seeds in gossipSeeds {
            _ = try? await membership.join(seeds: seeds)
        }
    }
}

// MARK: - StopRequest

/// A graceful stop asked for before or while the node runs: remembered until `run()` installs
/// the way to pass it on.
final class StopRequest: Sendable {
    private struct State {
        var requested = false
        var handler: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func request() {
        let handler = state.withLock { state -> (@Sendable () -> Void)? in
            state.requested = true
            return state.handler
        }
        handler?()
    }

    func install(_ handler: @escaping @Sendable () -> Void) {
        let requested = state.withLock { state -> Bool in
            state.handler = handler
            return state.requested
        }
        if requested { handler() }
    }
}
