import DiscoCore

// MARK: - What the zone is built from

/// Whether a member answers for its roles, as SWIM sees it.
public enum DNSMemberState: Sendable, Hashable, CaseIterable {
    /// Answering probes.
    case alive
    /// Missed probes and may be dead; still served (suspicion often clears, and dropping suspects
    /// would make answers flap).
    case suspect
    /// Declared dead: left out of role, SRV and name-server answers.
    case dead

    /// Whether the member is in `<role>.role`, `_<role>._tcp` and NS answers.
    public var isServed: Bool { self != .dead }
}

/// One cluster member as the DNS zone sees it.
public struct DNSZoneMember: Sendable, Hashable {
    public var id: NodeID
    /// Its IP addresses (A for IPv4, AAAA for IPv6). A member advertised by host name has none
    /// until the caller resolves it.
    public var addresses: [DNSIPAddress]
    /// The port of its HTTP API: the port of its SRV records.
    public var apiPort: UInt16
    /// The roles it performs (`-roles`); names that are not host name labels are left out.
    public var roles: [String]
    public var state: DNSMemberState

    public init(id: NodeID, addresses: [DNSIPAddress], apiPort: UInt16, roles: [String], state: DNSMemberState = .alive) {
        self.id = id
        self.addresses = addresses
        self.apiPort = apiPort
        self.roles = roles
        self.state = state
    }
}

/// Everything a zone snapshot is built from: the members, the leader, the members that serve
/// the zone (its NS records) and a serial.
public struct DNSZoneSource: Sendable, Hashable {
    public var members: [DNSZoneMember]
    /// The leader's ID, when there is one; `leader.<domain>` answers with its addresses.
    public var leader: NodeID?
    /// Members that serve this zone (the live members performing the DNS role): the apex's NS
    /// records and the SOA's primary server. Dead ones are left out.
    public var nameServers: [NodeID]
    /// The SOA serial; give a number that grows with every change (a Raft index, a counter).
    public var serial: UInt32

    public init(members: [DNSZoneMember], leader: NodeID? = nil, nameServers: [NodeID] = [], serial: UInt32 = 1) {
        self.members = members
        self.leader = leader
        self.nameServers = nameServers
        self.serial = serial
    }
}

/// Something the zone could not serve as given, and why (for logs and `/status`).
public struct DNSZoneOmission: Sendable, Hashable, CustomStringConvertible {
    public enum Subject: Sendable, Hashable {
        case member(NodeID)
        case role(String)
    }

    public let subject: Subject
    public let reason: String

    public var description: String {
        switch subject {
        case .member(let id): "member \(id.rawValue.debugDescription): \(reason)"
        case .role(let role): "role \(role.debugDescription): \(reason)"
        }
    }
}
