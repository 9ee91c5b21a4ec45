import DNSServerCore
import DiscoCore
import DiscoDNSMessage
import DiscoNet
import NodeRuntime

// MARK: - From the cluster to a zone

/// Resolves a host name to its addresses, sorted and de-duplicated; throws when it cannot.
typealias HostNameResolution = @Sendable (String) async throws -> [DNSIPAddress]

/// Builds what the DNS role serves from what the node knows: the replicated member records
/// (addresses, API ports, roles), SWIM's view of who is alive, and the leader.
enum ClusterZone {
    /// The zone source: every member with its API address's IP addresses and port, its roles
    /// and its state (this node is alive; the others as gossip says: one it declared dead or
    /// gone is not served, and one it does not know is served only when in `unknownServed`,
    /// within its grace: ``UnknownMembers``); the live members performing `dns` as name servers.
    static func source(members: [ClusterMember], gossip: [NodeID: MembershipState], unknownServed: Set<NodeID>, local: NodeID,
                       leader: NodeID?, serial: UInt32, addresses: (String) -> [DNSIPAddress]) -> DNSZoneSource {
        let zoneMembers = members.map { member -> DNSZoneMember in
            let api = try? PeerAddress(parsing: member.apiAddress)
            let gossipState = member.id == local ? .alive : gossip[member.id]
            let state: DNSMemberState = switch gossipState {
            case .alive?: .alive
            case nil: unknownServed.contains(member.id) ? .alive : .dead
            case .suspect?: .suspect
            case .dead?, .left?: .dead
            }
            return DNSZoneMember(id: member.id, addresses: api.map { addresses($0.host) } ?? [], apiPort: api?.port ?? 0,
                                 roles: member.roles, state: state)
        }
        let nameServers = zoneMembers.filter { $0.roles.contains(DNSRole.roleName) && $0.state.isServed }.map(\.id)
        return DNSZoneSource(members: zoneMembers, leader: leader, nameServers: nameServers, serial: serial)
    }

    /// The address of a numeric host (`10.0.0.1`, `fd00::1`), or nil for a name.
    static func numericAddress(_ host: String) -> DNSIPAddress? {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return SocketAddress(numericHost: bare, port: 0).flatMap { DNSIPAddress(bytes: $0.addressBytes) }
    }
}
