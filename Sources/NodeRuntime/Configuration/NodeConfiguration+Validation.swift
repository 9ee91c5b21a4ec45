import DiscoCore

// MARK: - Validation

/// Why a ``NodeConfiguration`` cannot run: the property concerned and what would be right.
public struct NodeConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The property, as written in code (`formation.joinAttempts`).
    public let property: String
    public let message: String

    public init(_ property: String, _ message: String) {
        self.property = property
        self.message = message
    }

    public var description: String { "invalid node configuration: \(property): \(message)" }
}

extension NodeConfiguration {
    /// Checks what ``Node/start(_:logger:components:roles:)`` would otherwise trip over later:
    /// names, bounds, and a formation plan that has what it needs. (`discod` checks its flags
    /// first, with messages that name them.)
    public func validate() throws(NodeConfigurationError) {
        guard !dataDirectory.isEmpty else { throw NodeConfigurationError("dataDirectory", "must not be empty") }
        guard nodeID.rawValue.utf8.count <= ClusterLimits.maxNameBytes else {
            throw NodeConfigurationError("nodeID", "is \(nodeID.rawValue.utf8.count) bytes; the cluster's member records hold at most "
                + "\(ClusterLimits.maxNameBytes)")
        }
        if let problem = nodeID.reservationProblem { throw NodeConfigurationError("nodeID", problem) }
        guard NodeID.isValid(cluster.name), cluster.name.utf8.count <= ClusterLimits.maxNameBytes else {
            throw NodeConfigurationError("cluster.name", "\(cluster.name.debugDescription) is not a valid name "
                + "(1 to \(ClusterLimits.maxNameBytes) bytes, no whitespace or control characters)")
        }
        if let problem = RoleNames.problem(with: cluster.roles) { throw NodeConfigurationError("cluster.roles", problem) }
        if let problem = RoleNames.problem(with: cluster.requires) { throw NodeConfigurationError("cluster.requires", problem) }
        if let problem = RoleNames.problem(with: cluster.bootstrapNeeds) { throw NodeConfigurationError("cluster.bootstrapNeeds", problem) }
        guard cluster.bootstrapNeedsLogInterval > .zero else {
            throw NodeConfigurationError("cluster.bootstrapNeedsLogInterval", "must be positive")
        }
        try checkAddresses()
        guard cluster.reapLearnerTimeout == .zero || cluster.reapLearnerTimeout >= .seconds(1) else {
            throw NodeConfigurationError("cluster.reapLearnerTimeout", "must be zero (never reap) or at least 1 second")
        }
        guard eventLog.retention.maxEvents >= 0, eventLog.retention.maxBytes >= 0 else {
            throw NodeConfigurationError("eventLog.retention", "bounds must be zero (no bound) or positive")
        }
        try formation.validate(voter: cluster.voter)
        try timing.validate()
    }

    private func checkAddresses() throws(NodeConfigurationError) {
        for (property, address) in [("api", api.effectiveAdvertisedAddress), ("internode", internode.effectiveAdvertisedAddress)]
        where address.listensOnEveryInterface {
            throw NodeConfigurationError("\(property).advertisedAddress", "\(address) is not an address other nodes can reach; "
                + "set it when \(property).bindAddress is a wildcard")
        }
        let (apiAddress, internodeAddress) = (api.effectiveAdvertisedAddress.withoutScheme, internode.effectiveAdvertisedAddress.withoutScheme)
        // Port 0 is filled in with the port the system chooses: two of them never collide.
        guard apiAddress != internodeAddress || apiAddress.port == 0 else {
            throw NodeConfigurationError("internode.advertisedAddress", "the API and internode addresses must differ (both are "
                + "\(api.effectiveAdvertisedAddress))")
        }
    }
}

extension NodeConfiguration.Formation {
    func validate(voter: Bool) throws(NodeConfigurationError) {
        guard joinAttempts >= 1 else { throw NodeConfigurationError("formation.joinAttempts", "must be at least 1, got \(joinAttempts)") }
        guard joinInterval >= .zero else { throw NodeConfigurationError("formation.joinInterval", "must not be negative") }
        guard bootstrapExpect >= 0 else { throw NodeConfigurationError("formation.bootstrapExpect", "must be 0 (off) or positive") }
        for (property, value) in [("bootstrapExpectTimeout", bootstrapExpectTimeout), ("connectTimeout", connectTimeout),
                                  ("notifyTimeout", notifyTimeout)] where value <= .zero {
            throw NodeConfigurationError("formation.\(property)", "must be positive")
        }
        let keyValue = discovery?.mode.usesKeyValueStore ?? false
        let findsPeers = !join.isEmpty || (discovery != nil && !keyValue)
        switch plan {
        case .singleNode:
            break
        case .join:
            guard findsPeers else {
                throw NodeConfigurationError("formation.join", "plan .join needs addresses to join or a dns/dns-srv discovery")
            }
        case .bootstrapExpect:
            guard findsPeers else {
                throw NodeConfigurationError("formation.join", "plan .bootstrapExpect needs peer addresses or a dns/dns-srv discovery")
            }
            guard bootstrapExpect == 0 || voter else {
                throw NodeConfigurationError("formation.bootstrapExpect", "only a voter bootstraps; set it to 0 for a non-voter")
            }
        case .keyValueRegistration:
            guard keyValue else {
                throw NodeConfigurationError("formation.discovery", "plan .keyValueRegistration needs a consul-kv or etcd-kv discovery")
            }
        }
    }
}

extension NodeConfiguration.Timing {
    func validate() throws(NodeConfigurationError) {
        for (property, value) in [("raftTickInterval", raftTickInterval), ("shutdownGrace", shutdownGrace),
                                  ("reconcileInterval", reconcileInterval)] where value <= .zero {
            throw NodeConfigurationError("timing.\(property)", "must be positive")
        }
        guard electionTicks >= 2 else { throw NodeConfigurationError("timing.electionTicks", "must be at least 2, got \(electionTicks)") }
        guard removedLinger >= .zero else { throw NodeConfigurationError("timing.removedLinger", "must not be negative") }
        guard cursorIdleDeletion >= .zero else {
            throw NodeConfigurationError("timing.cursorIdleDeletion", "must be zero (keep every cursor) or positive, got \(GoDuration.format(cursorIdleDeletion))")
        }
    }
}
