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

    /// The roles of `cluster.bootstrapNeeds` no live member performs yet.
    func missingBootstrapNeeds() async -> [String] {
        let rows = await memberRows()
        return RoleNames.normalized(configuration.cluster.bootstrapNeeds).filter { role in
            !rows.contains { $0.roles.contains(role) && ($0.swim?.isLive ?? false) }
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
