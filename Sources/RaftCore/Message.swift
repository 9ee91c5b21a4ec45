import DiscoCore

// MARK: - Message

/// A Raft RPC between two members of a group. Every message carries the sender's term (for a
/// pre-vote request: the term the sender would campaign in).
public struct Message: Sendable, Hashable {
    public var from: NodeID
    public var to: NodeID
    public var term: UInt64
    public var body: MessageBody

    public init(from: NodeID, to: NodeID, term: UInt64, body: MessageBody) {
        self.from = from
        self.to = to
        self.term = term
        self.body = body
    }
}

/// The kinds of Raft RPC.
public enum MessageBody: Sendable, Hashable {
    /// "Would you vote for me in `term`?" — answered without changing anyone's term.
    case preVote(lastIndex: UInt64, lastTerm: UInt64)
    case preVoteResponse(granted: Bool)
    /// A real vote request; `transfer` is set when the leader asked for this election.
    case vote(lastIndex: UInt64, lastTerm: UInt64, transfer: Bool)
    case voteResponse(granted: Bool)
    case append(AppendRequest)
    case appendResponse(AppendResponse)
    /// Leader liveness plus commit propagation; `context` is the leader's read round.
    case heartbeat(commit: UInt64, context: UInt64)
    case heartbeatResponse(context: UInt64)
    case installSnapshot(Snapshot)
    /// "Campaign now, skipping pre-vote": the last step of a leadership transfer.
    case timeoutNow
    /// "You are not a member": the sender's configuration at `configIndex` is committed and leaves
    /// the receiver out. Sent by a leader to the members its committed change removed, and by any
    /// member answering a campaign or replication message from a node outside its committed
    /// configuration. The receiver believes it only when `configIndex` is newer than every
    /// configuration it holds (see ``RaftNode/removal``).
    case removed(configIndex: UInt64)
}

/// AppendEntries: entries following `(prevIndex, prevTerm)`.
public struct AppendRequest: Sendable, Hashable {
    public var prevIndex: UInt64
    public var prevTerm: UInt64
    public var entries: [Entry]
    public var commit: UInt64

    public init(prevIndex: UInt64, prevTerm: UInt64, entries: [Entry], commit: UInt64) {
        self.prevIndex = prevIndex
        self.prevTerm = prevTerm
        self.entries = entries
        self.commit = commit
    }
}

/// The answer to an append or snapshot: either the index now known to match the leader, or a
/// rejection of `index` (the request's prevIndex) with a hint where the logs diverge.
public struct AppendResponse: Sendable, Hashable {
    public var accepted: Bool
    /// Accepted: the highest index known to match. Rejected: the rejected prevIndex.
    public var index: UInt64
    /// Rejected: the follower's term at `index` (0 when its log is shorter than `index`).
    public var conflictTerm: UInt64
    /// Rejected: the first index of `conflictTerm` in the follower's log, or its last index + 1.
    public var conflictIndex: UInt64

    public init(accepted: Bool, index: UInt64, conflictTerm: UInt64 = 0, conflictIndex: UInt64 = 0) {
        self.accepted = accepted
        self.index = index
        self.conflictTerm = conflictTerm
        self.conflictIndex = conflictIndex
    }
}

extension MessageBody {
    /// A short name for traces.
    public var name: String {
        switch self {
        case .preVote: "PreVote"
        case .preVoteResponse: "PreVoteResp"
        case .vote: "Vote"
        case .voteResponse: "VoteResp"
        case .append: "App"
        case .appendResponse: "AppResp"
        case .heartbeat: "Heartbeat"
        case .heartbeatResponse: "HeartbeatResp"
        case .installSnapshot: "Snapshot"
        case .timeoutNow: "TimeoutNow"
        case .removed: "Removed"
        }
    }
}

extension Message: CustomStringConvertible {
    public var description: String {
        var detail = ""
        switch body {
        case .preVote(let i, let t), .vote(let i, let t, _): detail = " last=\(i)@\(t)"
        case .preVoteResponse(let g), .voteResponse(let g): detail = g ? " granted" : " rejected"
        case .append(let a):
            detail = " prev=\(a.prevIndex)@\(a.prevTerm) n=\(a.entries.count) commit=\(a.commit)"
        case .appendResponse(let r):
            detail = r.accepted ? " ok=\(r.index)" : " reject=\(r.index) hint=\(r.conflictIndex)@\(r.conflictTerm)"
        case .heartbeat(let c, let x): detail = " commit=\(c) ctx=\(x)"
        case .heartbeatResponse(let x): detail = " ctx=\(x)"
        case .installSnapshot(let s): detail = " at=\(s.metadata.index)@\(s.metadata.term)"
        case .timeoutNow: break
        case .removed(let index): detail = " config=\(index)"
        }
        return "\(from)->\(to) t\(term) \(body.name)\(detail)"
    }
}
