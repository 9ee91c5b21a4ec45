import DiscoCore
import DiscoLifecycle

// MARK: - Roles other members perform

extension Node {
    /// The members performing `role` that are live: this node when it announces the role, the
    /// others by their replicated record (or what they announced before it exists) and SWIM.
    func liveMembers(performing role: String) async -> [NodeID] {
        await memberRows().filter { $0.roles.contains(role) && ($0.swim?.isLive ?? false) }.map(\.id)
    }

    /// The first role of `cluster.requires` no live member performs, or nil.
    func missingRequiredRole() async -> String? {
        let rows = await memberRows()
        return configuration.cluster.requires.first { role in
            !rows.contains { $0.roles.contains(role) && ($0.swim?.isLive ?? false) }
        }
    }

    /// The roles of `cluster.requires` no live member performs, sorted.
    func missingRequiredRoles() async -> [String] {
        let rows = await memberRows()
        return RoleNames.normalized(configuration.cluster.requires).filter { role in
            !rows.contains { $0.roles.contains(role) && ($0.swim?.isLive ?? false) }
        }
    }

    /// The roles of `cluster.bootstrapNeeds` no live member performs yet.
    func missingBootstrapNeeds() async -> [String] {
        let rows = await memberRows()
        return RoleNames.normalized(configuration.cluster.bootstrapNeeds).filter { role in
            !rows.contains { $0.roles.contains(role) && ($0.swim?.isLive ?? false) }
        }
    }

    // MARK: Watching requirements

    /// The service that logs each role of `cluster.requires` as it becomes unmet (a warning:
    /// `/readyz` answers 503 for it) and met again (naming the live members performing it),
    /// looking every `timing.reconcileInterval` once the node belongs to a cluster; a role unmet
    /// at the first look is logged as info (gossip may not have met its members yet). Returns
    /// at once without any.
    func roleRequirementsService() -> ServiceGroupConfiguration.ServiceEntry {
        ServiceGroupConfiguration.ServiceEntry(ServiceFunction { [self] in
            _ = try await cancelOnGracefulShutdown { [self] in await watchRoleRequirements() }
        }, name: "role-requirements", successTerminationBehavior: .ignore)
    }

    private func watchRoleRequirements() async {
        guard !configuration.cluster.requires.isEmpty else { return }
        // Unknown until the first look: each role's state is logged then, and on every change.
        var unmet: Set<String>?
        while !Task.isCancelled {
            if isClustered {
                let missing = Set(await missingRequiredRoles())
                for role in RoleNames.normalized(configuration.cluster.requires) where unmet.map({ $0.contains(role) }) != missing.contains(role) {
                    if missing.contains(role), unmet == nil {
                        // At start gossip may not have met the members yet: said, not warned.
                        logger.info("requires role \(role): no live member performs it yet; /readyz answers 503 until one does (-requires)")
                    } else if missing.contains(role) {
                        logger.warning("requires role \(role): no live member performs it; /readyz answers 503 until one does (-requires)")
                    } else {
                        let performers = await liveMembers(performing: role).map(\.rawValue).joined(separator: ",")
                        logger.info("requires role \(role): performed by \(performers) (-requires)")
                    }
                }
                unmet = missing
            }
            try? await Task.sleep(for: configuration.timing.reconcileInterval)
        }
    }

    /// Whether the node still waits for `-bootstrap-needs` (its roles have not started).
    var isWaitingForBootstrapNeeds: Bool { !bootstrapNeedsMet.isOpen }

    // MARK: Waiting for bootstrap needs

    /// The service that holds the roles back until a live member performs each role of
    /// `cluster.bootstrapNeeds`, logging what it still waits for every
    /// `cluster.bootstrapNeedsLogInterval`. Opens ``bootstrapNeedsMet`` at once without any.
    func bootstrapNeedsService() -> ServiceGroupConfiguration.ServiceEntry {
        ServiceGroupConfiguration.ServiceEntry(ServiceFunction { [self] in
            _ = try await cancelOnGracefulShutdown { [self] in await waitForBootstrapNeeds() }
        }, name: "bootstrap-needs", successTerminationBehavior: .ignore)
    }

    private func waitForBootstrapNeeds() async {
        let needs = RoleNames.normalized(configuration.cluster.bootstrapNeeds)
        guard !needs.isEmpty else {
            bootstrapNeedsMet.open()
            return
        }
        let started = ContinuousClock.now
        var lastLog: ContinuousClock.Instant?
        while !Task.isCancelled {
            let missing = await missingBootstrapNeeds()
            if missing.isEmpty {
                var performers: [String] = []
                for role in needs {
                    performers.append("\(role) by \(await liveMembers(performing: role).map(\.rawValue).joined(separator: ","))")
                }
                logger.info("bootstrap needs met (\(performers.joined(separator: "; "))) after "
                    + "\((ContinuousClock.now - started).components.seconds)s; starting the roles")
                bootstrapNeedsMet.open()
                return
            }
            let now = ContinuousClock.now
            if lastLog.map({ now - $0 >= configuration.cluster.bootstrapNeedsLogInterval }) ?? true {
                lastLog = now
                let members = await memberRows().count
                logger.info("waiting for a live member performing \(missing.joined(separator: ", ")) (-bootstrap-needs) for "
                    + "\((now - started).components.seconds)s; \(members) member\(members == 1 ? "" : "s") known, none performs it")
            }
            try? await Task.sleep(for: configuration.timing.reconcileInterval)
        }
    }
}
