import DiscoCore

// MARK: - Log entries

/// What an entry in the replicated log carries.
public enum EntryKind: UInt8, Sendable, Hashable {
    /// Application data proposed by a client.
    case normal = 0
    /// A new cluster configuration (the encoded ``ClusterConfig``); it takes effect when appended.
    case config = 1
    /// The empty entry a new leader appends to commit entries of earlier terms.
    case noop = 2
}

/// One entry of the replicated log.
public struct Entry: Sendable, Hashable {
    public var term: UInt64
    public var index: UInt64
    public var kind: EntryKind
    public var data: [UInt8]

    public init(term: UInt64, index: UInt64, kind: EntryKind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }

    /// Approximate wire size, used for batching limits.
    package var byteSize: Int { data.count + 24 }
}

// MARK: - Hard state

/// The state that must be durable before messages that depend on it are sent.
public struct HardState: Sendable, Hashable {
    /// The latest term this node has seen.
    public var term: UInt64
    /// The candidate this node voted for in `term`, if any.
    public var vote: NodeID?
    /// The highest log index known to be committed.
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: NodeID? = nil, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

// MARK: - Cluster configuration

/// The members of a Raft group: voters count toward quorums, learners (non-voters) only replicate.
public struct ClusterConfig: Sendable, Hashable, CustomStringConvertible {
    /// Voting members, sorted.
    public private(set) var voters: [NodeID]
    /// Non-voting members, sorted.
    public private(set) var learners: [NodeID]

    public init(voters: [NodeID], learners: [NodeID] = []) {
        self.voters = Array(Set(voters)).sorted()
        self.learners = Array(Set(learners).subtracting(voters)).sorted()
    }

    /// Every member, voters first.
    public var members: [NodeID] { voters + learners }

    /// Votes needed for a decision.
    public var quorum: Int { voters.count / 2 + 1 }

    public func isVoter(_ id: NodeID) -> Bool { voters.contains(id) }
    public func isLearner(_ id: NodeID) -> Bool { learners.contains(id) }
    public func contains(_ id: NodeID) -> Bool { isVoter(id) || isLearner(id) }

    /// The configuration after `change`, or an error saying why the change does not apply.
    public func applying(_ change: ConfigChange) throws(RaftError) -> ClusterConfig {
        switch change {
        case .addVoter(let id):
            guard !isVoter(id) else { throw RaftError(.invalidConfigChange, "\(id) is already a voter") }
            return ClusterConfig(voters: voters + [id], learners: learners.filter { $0 != id })
        case .addLearner(let id):
            guard !contains(id) else { throw RaftError(.invalidConfigChange, "\(id) is already a member") }
            return ClusterConfig(voters: voters, learners: learners + [id])
        case .promote(let id):
            guard isLearner(id) else {
                throw RaftError(.invalidConfigChange, "\(id) is not a learner; only learners can be promoted")
            }
            return ClusterConfig(voters: voters + [id], learners: learners.filter { $0 != id })
        case .remove(let id):
            guard contains(id) else { throw RaftError(.invalidConfigChange, "\(id) is not a member") }
            let remaining = voters.filter { $0 != id }
            guard !remaining.isEmpty else {
                throw RaftError(.invalidConfigChange, "removing \(id) would leave no voters")
            }
            return ClusterConfig(voters: remaining, learners: learners.filter { $0 != id })
        }
    }

    public var description: String {
        "voters=[\(voters.map(\.rawValue).joined(separator: ","))] learners=[\(learners.map(\.rawValue).joined(separator: ","))]"
    }
}

/// A single-server membership change.
public enum ConfigChange: Sendable, Hashable {
    case addVoter(NodeID)
    case addLearner(NodeID)
    case promote(NodeID)
    case remove(NodeID)
}

// MARK: - Snapshots

/// Where a snapshot sits in the log, and the configuration in force at that point.
public struct SnapshotMetadata: Sendable, Hashable {
    public var index: UInt64
    public var term: UInt64
    public var config: ClusterConfig

    public init(index: UInt64, term: UInt64, config: ClusterConfig) {
        self.index = index
        self.term = term
        self.config = config
    }
}

/// The application state up to and including `metadata.index`.
public struct Snapshot: Sendable, Hashable {
    public var metadata: SnapshotMetadata
    public var data: [UInt8]

    public init(metadata: SnapshotMetadata, data: [UInt8]) {
        self.metadata = metadata
        self.data = data
    }
}

// MARK: - Roles

/// What a node currently is in its group.
public enum RaftRole: String, Sendable, Hashable {
    case follower, preCandidate, candidate, leader
}

/// Role, term and known leader; reported in ``Ready/softState`` whenever it changes.
public struct SoftState: Sendable, Hashable {
    public var role: RaftRole
    public var term: UInt64
    public var leader: NodeID?
}

// MARK: - Persistent state

/// Everything a node recovers from storage when it starts.
public struct PersistentState: Sendable, Hashable {
    public var hardState: HardState
    /// The latest snapshot's position, if any (its data is the application's business).
    public var snapshot: SnapshotMetadata?
    /// Entries after the snapshot, consecutive.
    public var entries: [Entry]

    public init(hardState: HardState = HardState(), snapshot: SnapshotMetadata? = nil, entries: [Entry] = []) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }

    /// The initial state of a node bootstrapped with `voters`. Every node given the same list
    /// gets the same first entry (term 1, index 1, the configuration), so their logs agree.
    public static func bootstrap(voters: [NodeID]) -> PersistentState {
        let config = ClusterConfig(voters: voters)
        let entry = Entry(term: 1, index: 1, kind: .config, data: RaftCodec.encode(config))
        return PersistentState(hardState: HardState(term: 1), entries: [entry])
    }

    /// Whether nothing was ever stored.
    public var isEmpty: Bool { hardState == HardState() && snapshot == nil && entries.isEmpty }
}

// MARK: - Errors

/// An error from the Raft core, storage or codec: a stable code plus a readable message.
public struct RaftError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let notLeader = Code(rawValue: "not-leader")
        public static let transferInProgress = Code(rawValue: "transfer-in-progress")
        public static let configChangePending = Code(rawValue: "config-change-pending")
        public static let invalidConfigChange = Code(rawValue: "invalid-config-change")
        /// A learner may become a voter only once it is caught up with the leader's log.
        public static let learnerNotCaughtUp = Code(rawValue: "learner-not-caught-up")
        public static let invalidArgument = Code(rawValue: "invalid-argument")
        public static let malformedFrame = Code(rawValue: "malformed-frame")
        public static let corruptStorage = Code(rawValue: "corrupt-storage")
        /// A configuration entry that cannot be decoded: the node halts (``RaftNode/fault``).
        public static let corruptConfiguration = Code(rawValue: "corrupt-configuration")
        public static let io = Code(rawValue: "io")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
