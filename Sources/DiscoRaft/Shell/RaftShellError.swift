import DiscoCore

// MARK: - RaftShellError

/// Why a request to a ``RaftNodeShell`` failed: a stable code, a readable message and, when this
/// node is not the leader, the leader it knows of (retry there).
public struct RaftShellError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// This node is not the leader; see ``RaftShellError/leader``.
        public static let notLeader = Code(rawValue: "not-leader")
        /// Leadership is being handed over; retry shortly (at the new leader).
        public static let transferInProgress = Code(rawValue: "transfer-in-progress")
        /// Another membership change is not committed yet.
        public static let configChangePending = Code(rawValue: "config-change-pending")
        /// The request is invalid (a membership change that does not apply, data too large, …).
        public static let invalidArgument = Code(rawValue: "invalid-argument")
        /// A learner cannot be promoted yet: it has not caught up with the leader's log.
        public static let learnerNotCaughtUp = Code(rawValue: "learner-not-caught-up")
        /// The proposal's entry was replaced by another leader's: it will never be applied.
        public static let dropped = Code(rawValue: "dropped")
        /// Whether the proposal was applied cannot be known (a snapshot replaced the log around it).
        public static let outcomeUnknown = Code(rawValue: "outcome-unknown")
        /// This node stopped leading (it stepped down, lost its quorum or saw a newer term) before
        /// the proposal committed: a later leader may still commit it or replace it, so whether it
        /// will be applied is unknown.
        public static let leadershipLost = Code(rawValue: "leadership-lost")
        /// The caller stopped waiting (its task was cancelled); the message says what becomes of
        /// the request (a proposal may still be applied).
        public static let cancelled = Code(rawValue: "cancelled")
        /// Leadership transfer did not complete in time.
        public static let transferFailed = Code(rawValue: "transfer-failed")
        /// The shell is shut down (or shutting down).
        public static let shutDown = Code(rawValue: "shut-down")
        /// The node already has Raft state (a term, entries or a snapshot), so it cannot bootstrap a
        /// new cluster; it belongs to one already (rejoin it instead).
        public static let alreadyHasState = Code(rawValue: "already-has-state")
        /// Durable storage failed; the node stopped.
        public static let storage = Code(rawValue: "storage")
        /// A configuration entry could not be decoded; the node stopped.
        public static let corruptConfiguration = Code(rawValue: "corrupt-configuration")
    }

    public let code: Code
    public let message: String
    /// The leader this node knows of, when the code is ``Code/notLeader`` or ``Code/transferInProgress``.
    public let leader: NodeID?

    public init(_ code: Code, _ message: String, leader: NodeID? = nil) {
        self.code = code
        self.message = message
        self.leader = leader
    }

    /// Translates an error of the core.
    init(_ error: RaftError, leader: NodeID?) {
        let code: Code = switch error.code {
        case .notLeader: .notLeader
        case .transferInProgress: .transferInProgress
        case .configChangePending: .configChangePending
        case .learnerNotCaughtUp: .learnerNotCaughtUp
        case .corruptStorage, .io: .storage
        case .corruptConfiguration: .corruptConfiguration
        default: .invalidArgument
        }
        self.init(code, error.message, leader: leader)
    }

    public var description: String {
        if let leader { return "\(code.rawValue): \(message) (leader: \(leader))" }
        return "\(code.rawValue): \(message)"
    }
}
