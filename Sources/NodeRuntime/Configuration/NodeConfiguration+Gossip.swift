import DiscoCore
import DiscoSWIM

// MARK: - What gossip announces

extension NodeConfiguration {
    /// Why SWIM could not announce this node (nil when it can): its metadata (API address,
    /// roles, voter) travels in one gossip item of at most half a datagram, with at most
    /// ``SWIM/WireCodec/maxRoles`` roles, fewer than `-roles` takes. `extraRoles` are the roles
    /// of plug-ins run with the node. A port 0 counts as the longest port the system may choose.
    public func gossipMetadataProblem(extraRoles: [String] = []) -> String? {
        let roles = RoleNames.normalized(cluster.roles + extraRoles)
        guard roles.count <= SWIM.WireCodec.maxRoles else {
            return "\(roles.count) roles do not fit in gossip metadata (at most \(SWIM.WireCodec.maxRoles))"
        }
        func announced(_ address: PeerAddress) -> PeerAddress {
            let plain = address.withoutScheme
            return PeerAddress(host: plain.host, port: plain.port == 0 ? .max : plain.port)
        }
        var settings = SWIM.Settings()
        if gossip.encryption != nil { settings.maxPacketSize -= SWIM.GossipSealer.overhead }
        if gossip.encryption?.verifyOutgoing != true, let label = try? SWIM.WireLabel(cluster.name) {
            settings.maxPacketSize -= label.prefix.count  // plaintext carries the cluster name in front
        }
        let metadata = SWIM.Metadata(apiAddress: announced(api.effectiveAdvertisedAddress), roles: roles, isVoter: cluster.voter)
        guard let problem = SWIM.Instance.metadataProblem(metadata, address: announced(internode.effectiveAdvertisedAddress),
                                                          id: nodeID, settings: settings)
        else { return nil }
        let what = roles.isEmpty ? "the node ID and addresses do" : "the roles do"
        return "\(what) not fit in gossip metadata: \(problem.reason)"
    }
}
