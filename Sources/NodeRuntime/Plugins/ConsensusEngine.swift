import DiscoCore

// MARK: - ConsensusEngine

/// The replicated log the node runs on: ordering, leadership and voting membership.
///
/// The embedded implementation is ``RaftConsensus`` (DiscoRaft). Another engine (for example
/// etcd, for users who already run it) plugs in by implementing this protocol and
/// ``ClusterStore``; nothing else in the node changes.
public protocol ConsensusEngine: Sendable {
    var localID: NodeID { get }
    /// A snapshot of the engine's view, cheap to read.
    var status: ConsensusStatus { get }
    /// ``ConsensusStatus/leaderContact`` alone: a sidecar asks it for every request that needs
    /// an API key and is served from this node's copy of the keys, so an engine answers it
    /// without making the whole status (on the leader, a map of its peers). The default: the
    /// status's.
    var leaderContact: LeaderContact { get }
    /// Creates a new cluster with exactly these voters. Only valid on a node without state.
    func bootstrap(voters: [NodeID]) async throws
    /// Waits until ``status`` knows whether this node has state (``ConsensusStatus/stateKnown``),
    /// then, within `timeout`, until it shows state this node already has elsewhere (an engine
    /// whose state lives outside the node learns it after start). The node calls it once before
    /// choosing how to form.
    func settleExistingState(within timeout: Duration) async
    /// Appends `data` to the log; returns its index once committed and applied locally.
    /// Throws ``ConsensusError`` `.notLeader` on followers, `.unknown` when this node stops
    /// leading before the entry commits, `.stopped` when the engine stops first and `.cancelled`
    /// when the calling task is cancelled: no request outlives its cause.
    func propose(_ data: [UInt8]) async throws -> UInt64
    /// Adds a member as a learner (a non-voter that only replicates). Members never join as
    /// voters: a learner is promoted once it has caught up (``promote(_:)``).
    func addLearner(_ id: NodeID) async throws
    /// Makes a learner a voter. Refused (``ConsensusError/Code-swift.enum/learnerBehind``) unless
    /// the engine reports it caught up (``ConsensusStatus/peers``).
    func promote(_ id: NodeID) async throws
    func removeMember(_ id: NodeID) async throws
    /// Returns once a quorum has confirmed that this node still leads, so its configuration is
    /// the cluster's (a leader cut off from the rest may not know of a later change). Throws
    /// ``ConsensusError`` `.notLeader` when it does not lead. An engine whose membership answers
    /// are linearizable by themselves may return at once (the default).
    func confirmLeadership() async throws
    /// The log index this node must have applied to have caught up with the cluster as of now
    /// (`/readyz?sync`): at least the commit index it knows, and, where the engine can tell,
    /// the one the cluster reached. Throws ``ConsensusError`` when that cannot be learned now.
    /// The default is the commit index in ``status``.
    func catchUpTarget() async throws -> UInt64
    /// Hands leadership to `target` (or the most caught-up voter); returns the new leader.
    func transferLeadership(to target: NodeID?) async throws -> NodeID
    /// Every change of leader or term, as it happens; the stream ends when the engine stops.
    func leadershipChanges() -> AsyncStream<ConsensusLeadership>
    /// Stops the engine, flushing state; a leader first hands leadership over when asked.
    func shutdown(transferLeadership: Bool) async
    /// Counters of the engine's own traffic between nodes (nil: it has none, as with etcd).
    var internodeCounters: InternodeCounters? { get }
    /// Where an engine whose state lives outside the node keeps it, and how reaching it goes
    /// (nil: the state is the node's own, as with Raft).
    var externalState: ExternalStateStatus? { get }
    /// For an engine whose state lives outside the node: whether that state names this node as
    /// a member, read from it now (nil: it could not be read, or the state is the node's own).
    func readExternalMembership() async -> Bool?
    /// For an engine whose state lives outside the node: which cluster is there and whether it
    /// names this node, read from it now (nil: it could not be read, or the state is the node's own).
    func readExternalCluster() async -> ExternalMembershipReading?
}

extension ConsensusEngine {
    public var leaderContact: LeaderContact { status.leaderContact }
    public var internodeCounters: InternodeCounters? { nil }
    public var externalState: ExternalStateStatus? { nil }
    public func readExternalMembership() async -> Bool? { nil }
    public func readExternalCluster() async -> ExternalMembershipReading? { nil }
    public func confirmLeadership() async throws {}
    public func catchUpTarget() async throws -> UInt64 { status.commitIndex }
}

/// How an engine whose state lives outside the node (etcd) reaches it, for `/status`, `/readyz`
/// and the node's wait at start.
public struct ExternalStateStatus: Sendable, Hashable {
    /// What keeps the state, such as `etcd`.
    public var system: String
    /// Where it is reached (etcd's client URLs).
    public var endpoints: [String]
    /// The prefix the cluster's state lives under, such as `/disco/`.
    public var key: String
    /// The last failure reaching it, cleared by the next success.
    public var lastError: String?
    /// Failed attempts to read the state since the node started (each is retried).
    public var failedReads: Int
    /// The cluster under the key as the engine last read it (nil: none there, or not read yet).
    public var cluster: ExternalClusterIdentity?

    public init(system: String, endpoints: [String], key: String, lastError: String?, failedReads: Int,
                cluster: ExternalClusterIdentity? = nil) {
        self.system = system
        self.endpoints = endpoints
        self.key = key
        self.lastError = lastError
        self.failedReads = failedReads
        self.cluster = cluster
    }

    /// `etcd at http://a:2379,http://b:2379`, for messages.
    public var location: String { "\(system) at \(endpoints.joined(separator: ","))" }
}

/// What an engine that talks to peers itself (Raft) counts of that traffic, for `/metrics`.
public struct InternodeCounters: Sendable, Hashable {
    public var messagesSent: Int
    public var messagesReceived: Int
    public var messagesDropped: Int
    /// Inbound connections closed at a frame that could not be read, or was refused (plain
    /// while sealing is required, or sealed with another key).
    public var connectionsRefused: Int
    /// Of those, the connections whose sender named another cluster (`-cluster-name`).
    public var clusterRefused: Int
    /// Inbound connections whose sender named no cluster (an older build), accepted.
    public var unlabelledAccepted: Int

    public init(messagesSent: Int, messagesReceived: Int, messagesDropped: Int, connectionsRefused: Int,
                clusterRefused: Int = 0, unlabelledAccepted: Int = 0) {
        self.messagesSent = messagesSent
        self.messagesReceived = messagesReceived
        self.messagesDropped = messagesDropped
        self.connectionsRefused = connectionsRefused
        self.clusterRefused = clusterRefused
        self.unlabelledAccepted = unlabelledAccepted
    }
}

/// A node's part in consensus, as `GET /status` shows it (`node.state`).
public enum ConsensusRole: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case follower
    /// Asking for pre-votes before it campaigns.
    case preCandidate
    case candidate
    case leader

    public var description: String { rawValue }
}

/// What the consensus engine reports about itself.
public struct ConsensusStatus: Sendable, Hashable {
    public var role: ConsensusRole
    public var term: UInt64
    public var leader: NodeID?
    public var commitIndex: UInt64
    public var appliedIndex: UInt64
    public var lastIndex: UInt64
    public var voters: [NodeID]
    public var learners: [NodeID]
    /// Whether this node holds any consensus state (it was bootstrapped or joined before).
    public var hasState: Bool
    /// Whether ``hasState`` is known: false while an engine whose state lives outside the node
    /// (etcd) has not read it yet since it started. Embedded Raft knows it at once.
    public var stateKnown: Bool
    public var isStopped: Bool
    /// Why the engine stopped on its own (storage failed, corrupt state), if it did; the node
    /// then stops with this error.
    public var failure: String?
    /// On the leader: how far every other member's log has come (empty elsewhere).
    public var peers: [NodeID: PeerReplication]
    /// Set once this node knows it was removed from the cluster.
    public var removal: RemovalNotice?
    /// When this node last heard from its leader (how stale its applied state may be).
    public var leaderContact: LeaderContact

    public var isLeader: Bool { role == .leader }
    public var members: [NodeID] { voters + learners }

    public init(role: ConsensusRole, term: UInt64, leader: NodeID?, commitIndex: UInt64, appliedIndex: UInt64, lastIndex: UInt64,
                voters: [NodeID], learners: [NodeID], hasState: Bool, stateKnown: Bool = true, isStopped: Bool, failure: String? = nil,
                peers: [NodeID: PeerReplication] = [:], removal: RemovalNotice? = nil, leaderContact: LeaderContact = .notTracked) {
        self.leaderContact = leaderContact
        self.role = role
        self.term = term
        self.leader = leader
        self.commitIndex = commitIndex
        self.appliedIndex = appliedIndex
        self.lastIndex = lastIndex
        self.voters = voters
        self.learners = learners
        self.hasState = hasState
        self.stateKnown = stateKnown
        self.isStopped = isStopped
        self.failure = failure
        self.peers = peers
        self.removal = removal
    }
}

/// When a node last heard from the leader of its term, which bounds how stale its copy of the
/// replicated state may be: a node cut off from the leader applies nothing new.
public enum LeaderContact: Sendable, Hashable {
    /// This node leads (it steps down when a quorum stops answering it).
    case leading
    /// It last heard from its leader at this instant.
    case heard(at: ContinuousClock.Instant)
    /// It has not heard from a leader since it started.
    case never
    /// The engine does not report it (an engine whose state lives outside the node).
    case notTracked
}

/// A member's replication as the leader sees it.
public struct PeerReplication: Sendable, Hashable {
    /// The highest log index the member is known to hold (0: nothing acknowledged yet).
    public var matchIndex: UInt64
    /// Whether it answered within the last election timeout.
    public var recentlyActive: Bool
    /// Whether it answered recently and holds the log up to the commit index: only a caught-up
    /// learner is promoted.
    public var caughtUp: Bool

    public init(matchIndex: UInt64, recentlyActive: Bool, caughtUp: Bool) {
        self.matchIndex = matchIndex
        self.recentlyActive = recentlyActive
        self.caughtUp = caughtUp
    }
}

/// How a node learned that it was removed from the cluster.
public struct RemovalNotice: Sendable, Hashable {
    /// The member that told it (nil: it led the cluster when its own removal committed).
    public var reportedBy: NodeID?
    /// The log index of the committed configuration without it.
    public var configIndex: UInt64

    public init(reportedBy: NodeID?, configIndex: UInt64) {
        self.reportedBy = reportedBy
        self.configIndex = configIndex
    }
}

/// A change of leadership.
public struct ConsensusLeadership: Sendable, Hashable {
    public var term: UInt64
    public var leader: NodeID?
    public var isLocal: Bool
    public init(term: UInt64, leader: NodeID?, isLocal: Bool) {
        self.term = term
        self.leader = leader
        self.isLocal = isLocal
    }
}

/// Why a consensus request failed, in terms the HTTP API maps to status codes.
public struct ConsensusError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// Not the leader; `leader` names it when known (HTTP 307 or 503).
        case notLeader = "not-leader"
        /// Another membership change is still being committed; retry (HTTP 503).
        case busy
        /// A learner cannot be promoted before it has caught up with the leader's log.
        case learnerBehind = "learner-behind"
        /// The entry was replaced by another leader's before it committed: it will never be
        /// applied, so retrying cannot duplicate it (HTTP 503).
        case notCommitted = "not-committed"
        /// The request cannot succeed as given (HTTP 400/409).
        case invalid
        /// The engine stopped (HTTP 503).
        case stopped
        /// The outcome is unknown (leadership was lost after proposing) (HTTP 503).
        case unknown
        /// The caller stopped waiting (its task was cancelled); a proposal may still be applied
        /// (HTTP 503).
        case cancelled
        /// Anything else (HTTP 500).
        case failed
    }

    public let code: Code
    public let message: String
    public let leader: NodeID?

    public init(_ code: Code, _ message: String, leader: NodeID? = nil) {
        self.code = code
        self.message = message
        self.leader = leader
    }

    public var description: String { message }
}

extension ConsensusEngine {
    /// Engines that keep their state in the node (Raft's log) know it at start.
    public func settleExistingState(within timeout: Duration) async {}
}
