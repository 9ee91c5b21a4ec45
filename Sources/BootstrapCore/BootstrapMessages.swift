import DiscoCore

// MARK: - BootstrapPeer

/// A node as cluster formation sees it: identity and advertised addresses.
public struct BootstrapPeer: Hashable, Sendable, CustomStringConvertible {
    public var id: NodeID
    /// Advertised Raft (internode) address, `host:port`.
    public var raftAddress: String
    /// Advertised HTTP API address, `host:port`.
    public var apiAddress: String
    public var voter: Bool
    /// SHA-256 of the node's own key, as 64 hexadecimal digits, when the node sent it: the
    /// cluster records it, and later address changes must present the key itself.
    public var keyHash: String?
    /// The roles the node announces (``RoleNames``), sorted, each once; empty when it has none
    /// or did not say.
    public var roles: [String]
    /// The node's own generation (advanced at each start), when it sent one: the cluster keeps
    /// the highest, so an older self-description arriving late cannot move the node back.
    public var generation: UInt64?

    public init(id: NodeID, raftAddress: String, apiAddress: String, voter: Bool = true, keyHash: String? = nil, roles: [String] = [],
                generation: UInt64? = nil) {
        self.id = id
        self.raftAddress = raftAddress
        self.apiAddress = apiAddress
        self.voter = voter
        self.keyHash = keyHash
        self.roles = roles
        self.generation = generation
    }

    public var description: String { "\(id)@\(apiAddress)" }
}

// MARK: - Notify

/// `POST /notify`: "I exist, and this is who I know." Sent by voters that found no cluster to
/// join, to every discovery target, every round.
public struct NotifyRequest: Hashable, Sendable {
    public var sender: BootstrapPeer
    public var cluster: String
    public var expect: Int
    /// Voters the sender has heard from recently (itself included), so knowledge spreads even
    /// when discovery answers differ between nodes.
    public var known: [BootstrapPeer]
    /// The sender's own key (hexadecimal), sent only by a node that rejoins its cluster: it
    /// proves the sender is the member it names when it comes back on new addresses.
    public var nodeKey: String?

    public init(sender: BootstrapPeer, cluster: String, expect: Int, known: [BootstrapPeer], nodeKey: String? = nil) {
        self.sender = sender
        self.cluster = cluster
        self.expect = expect
        self.known = known
        self.nodeKey = nodeKey
    }
}

/// The answer to a notify.
public enum NotifyReply: Hashable, Sendable {
    /// The receiver is still forming a cluster; here is who it is and whom it knows.
    case forming(responder: BootstrapPeer, known: [BootstrapPeer])
    /// The receiver already belongs to a cluster: join it instead.
    case clustered(responder: BootstrapPeer)
    /// The receiver runs with another cluster name or expect value (HTTP 409). Names both values.
    case mismatch(String)
}

// MARK: - Proposals

/// Identifies one attempt to bootstrap: the proposer and a per-proposer sequence number.
public struct ProposalID: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var proposer: NodeID
    public var sequence: UInt64

    public init(proposer: NodeID, sequence: UInt64) {
        self.proposer = proposer
        self.sequence = sequence
    }

    public var description: String { "\(proposer)#\(sequence)" }

    public static func < (lhs: ProposalID, rhs: ProposalID) -> Bool {
        (lhs.proposer, lhs.sequence) < (rhs.proposer, rhs.sequence)
    }
}

/// `POST /bootstrap/propose`: "form the cluster with exactly these voters, with me bootstrapping".
/// A node promises itself to at most one proposal at a time, and keeps the promise durably
/// until the proposer says the proposal was abandoned; so no node can be counted in two
/// initial configurations.
public struct Proposal: Hashable, Sendable {
    public var id: ProposalID
    public var cluster: String
    public var expect: Int
    /// The initial voters, sorted by ID, the proposer first among them (it has the smallest ID).
    public var voters: [BootstrapPeer]

    public init(id: ProposalID, cluster: String, expect: Int, voters: [BootstrapPeer]) {
        self.id = id
        self.cluster = cluster
        self.expect = expect
        self.voters = voters
    }
}

/// The answer to a proposal.
public enum ProposalReply: Hashable, Sendable {
    case accepted
    /// Refused, with the reason (already promised to another proposal, already clustered,
    /// mismatched cluster name or expect).
    case refused(String)
}

/// What a proposer says about one of its proposals when a promised node asks.
public enum ProposalStatus: Hashable, Sendable {
    /// The proposer bootstrapped with it: the cluster exists; wait for Raft to reach you.
    case bootstrapped
    /// The proposer gave it up, or does not know it (it restarted before bootstrapping):
    /// the promise is released.
    case abandoned
    /// Still collecting answers.
    case pending
}

/// How a join attempt ended (`POST /join` to each target, following leader redirects).
public enum JoinOutcome: Hashable, Sendable {
    /// A cluster accepted this node.
    case joined
    /// No target belongs to a cluster yet (or none answered).
    case noCluster
}
