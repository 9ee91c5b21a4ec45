import DiscoCore

// MARK: - ConfigurationError

extension SWIM {
    /// Settings or metadata that cannot work; `description` says which value and what is valid.
    public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The setting or field at fault.
        public let field: String
        /// What is wrong and what would be valid.
        public let reason: String

        public init(field: String, reason: String) {
            self.field = field
            self.reason = reason
        }

        public var description: String { "invalid SWIM \(field): \(reason)" }
    }
}

extension SWIM.Settings {
    /// Checks that the settings are usable.
    public func validate() throws(SWIM.ConfigurationError) {
        func fail(_ field: String, _ reason: String) -> SWIM.ConfigurationError { .init(field: field, reason: reason) }
        guard probeInterval > .zero else { throw fail("probeInterval", "\(probeInterval) must be positive") }
        guard probeTimeout > .zero, probeTimeout < probeInterval else {
            throw fail("probeTimeout", "\(probeTimeout) must be positive and shorter than probeInterval \(probeInterval)")
        }
        guard (0...16).contains(indirectProbeCount) else { throw fail("indirectProbeCount", "\(indirectProbeCount) must be in 0...16") }
        guard suspicionMultiplier >= 1 else { throw fail("suspicionMultiplier", "\(suspicionMultiplier) must be at least 1") }
        guard suspicionMaxTimeoutMultiplier >= 1 else {
            throw fail("suspicionMaxTimeoutMultiplier", "\(suspicionMaxTimeoutMultiplier) must be at least 1")
        }
        guard (0...16).contains(expectedConfirmations) else { throw fail("expectedConfirmations", "\(expectedConfirmations) must be in 0...16") }
        guard (0...64).contains(maxLocalHealthMultiplier) else {
            throw fail("maxLocalHealthMultiplier", "\(maxLocalHealthMultiplier) must be in 0...64")
        }
        guard (1...64).contains(retransmitMultiplier) else { throw fail("retransmitMultiplier", "\(retransmitMultiplier) must be in 1...64") }
        guard gossipInterval > .zero else { throw fail("gossipInterval", "\(gossipInterval) must be positive") }
        guard (1...32).contains(gossipFanout) else { throw fail("gossipFanout", "\(gossipFanout) must be in 1...32") }
        guard (512...SWIM.WireCodec.maxDatagramSize).contains(maxPacketSize) else {
            throw fail("maxPacketSize", "\(maxPacketSize) must be in 512...\(SWIM.WireCodec.maxDatagramSize)")
        }
        for (name, value) in [("pushPullInterval", pushPullInterval), ("reconnectInterval", reconnectInterval),
                              ("lonelyReconnectInterval", lonelyReconnectInterval), ("tombstoneTimeout", tombstoneTimeout),
                              ("reapInterval", reapInterval), ("leaveTimeout", leaveTimeout),
                              ("nodeIDConflictWindow", nodeIDConflictWindow)] {
            guard value > .zero else { throw fail(name, "\(value) must be positive") }
        }
        guard (2...1000).contains(nodeIDConflictRefutations) else {
            throw fail("nodeIDConflictRefutations", "\(nodeIDConflictRefutations) must be in 2...1000")
        }
    }
}

extension SWIM.Instance {
    /// Why member `id` at `address` cannot announce `metadata` with `settings` (nil when it
    /// can): too many roles, a role or host the wire cannot carry, or an announcement larger
    /// than half a packet. ``init(id:address:metadata:settings:random:)`` refuses the same.
    public static func metadataProblem(_ metadata: SWIM.Metadata, address: PeerAddress, id: NodeID,
                                       settings: SWIM.Settings) -> SWIM.ConfigurationError? {
        do throws(SWIM.ConfigurationError) {
            try validate(metadata, address: address, id: id, settings: settings)
            return nil
        } catch {
            return error
        }
    }

    /// Checks that `metadata` encodes within the wire limits and leaves room in a packet.
    static func validate(_ metadata: SWIM.Metadata, address: PeerAddress, id: NodeID,
                         settings: SWIM.Settings) throws(SWIM.ConfigurationError) {
        func fail(_ reason: String) -> SWIM.ConfigurationError { .init(field: "metadata", reason: reason) }
        guard metadata.roles.count <= SWIM.WireCodec.maxRoles else {
            throw fail("\(metadata.roles.count) roles, at most \(SWIM.WireCodec.maxRoles) allowed")
        }
        for role in metadata.roles where role.utf8.count > SWIM.WireCodec.maxRoleBytes || role.isEmpty {
            throw fail("role \(role.debugDescription) must be 1...\(SWIM.WireCodec.maxRoleBytes) bytes")
        }
        for host in [address.host, metadata.apiAddress?.host].compactMap({ $0 }) {
            guard !host.isEmpty, host.utf8.count <= SWIM.WireCodec.maxHostBytes,
                host.utf8.allSatisfy(SWIM.WireCodec.isHostByte)
            else { throw .init(field: "address", reason: "host \(host.debugDescription) is not a host name or IP literal") }
        }
        guard address.port != 0, metadata.apiAddress?.port != 0 else {
            throw .init(field: "address", reason: "port 0 cannot be announced; bind first and announce the real port")
        }
        let item = SWIM.GossipItem.alive(id: id, incarnation: .max, address: address, metadata: metadata)
        let limit = settings.maxPacketSize / 2
        let size = SWIM.WireCodec.encodedSize(of: item)
        guard size <= limit else { throw fail("encodes to \(size) bytes; at most \(limit) (half a packet) allowed") }
    }
}
