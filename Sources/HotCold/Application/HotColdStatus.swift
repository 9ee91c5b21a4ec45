import DiscoCore
import LeaseCore

// MARK: - HotColdStatus

/// What a replica knows about its group at one moment: its own state and token, and who holds
/// the lease in the replicated state. The value behind the state file, `GET /hot` and
/// `/readyz?hot`.
public struct HotColdStatus: Hashable, Sendable {
    /// Whether this replica may act as the hot one.
    public enum State: String, Hashable, Sendable, CustomStringConvertible {
        case hot
        /// Still the holder with its token, but its renew deadline passed without a renewal (a
        /// Raft election, a slow commit): not acting — no writes, `/readyz?hot` 503 — and
        /// renewing. It becomes `hot` again with the same token, without hooks or an event, when
        /// a renewal commits, or `cold` when the lease may have moved on.
        case suspended
        case cold

        public var description: String { rawValue }
    }

    public var group: LeaseGroup
    /// This replica's node.
    public var node: NodeID
    public var state: State
    /// The fencing token this replica acts with while hot; while cold, the last token it held
    /// (0 when it never was hot), so the application can tell which term ended.
    public var token: UInt64
    /// When this replica entered its state: wall-clock nanoseconds since the Unix epoch (for
    /// people and files; the lease itself never reads the wall clock).
    public var sinceWallNanoseconds: Int64
    /// Why it last became cold (nil until it was hot once).
    public var coldReason: LeaseHolder.ColdReason?
    /// The holder in the replicated state as applied here (nil: nobody holds the lease).
    public var holder: NodeID?
    /// The group's latest token as applied here (0: never granted).
    public var leaseToken: UInt64
    /// Whether this replica's upstream is healthy.
    public var healthy: Bool
    /// False for a `-no-hot` replica.
    public var mayBeHot: Bool
    /// `-hot-priority`.
    public var priority: Int

    public init(group: LeaseGroup, node: NodeID, state: State = .cold, token: UInt64 = 0, sinceWallNanoseconds: Int64,
                coldReason: LeaseHolder.ColdReason? = nil, holder: NodeID? = nil, leaseToken: UInt64 = 0,
                healthy: Bool = true, mayBeHot: Bool = true, priority: Int = 0) {
        self.group = group
        self.node = node
        self.state = state
        self.token = token
        self.sinceWallNanoseconds = sinceWallNanoseconds
        self.coldReason = coldReason
        self.holder = holder
        self.leaseToken = leaseToken
        self.healthy = healthy
        self.mayBeHot = mayBeHot
        self.priority = priority
    }

    /// Whether the replica may be granted the lease as far as it knows itself.
    public var isEligible: Bool { healthy && mayBeHot }

    /// `since` as RFC 3339 UTC with milliseconds.
    public var since: String { LogClock.rfc3339(nanoseconds: sinceWallNanoseconds) }
}

// MARK: - JSON

extension HotColdStatus {
    /// The state file's content: `{"state","token","since"}` plus the group and node, so one
    /// application serving several groups can tell the files apart.
    public var stateFileJSON: JSONValue {
        [
            "state": .string(state.rawValue),
            "token": .number(JSONNumber(token)),
            "since": .string(since),
            "group": .string(group.rawValue),
            "node": .string(node.rawValue),
        ]
    }

    /// The full picture, as `GET /hot` answers it: who is hot (`hot`, `token`: the replicated
    /// holder and token as applied here) and this replica (`node`, `state`, `since`, ...).
    public var json: JSONValue {
        var object = JSONObject()
        object.append(key: "group", value: .string(group.rawValue))
        object.append(key: "hot", value: holder.map { .string($0.rawValue) } ?? .null)
        object.append(key: "token", value: .number(JSONNumber(leaseToken)))
        object.append(key: "node", value: .string(node.rawValue))
        object.append(key: "state", value: .string(state.rawValue))
        object.append(key: "node_token", value: .number(JSONNumber(token)))
        object.append(key: "since", value: .string(since))
        object.append(key: "reason", value: coldReason.map { .string($0.description) } ?? .null)
        object.append(key: "healthy", value: .bool(healthy))
        object.append(key: "may_be_hot", value: .bool(mayBeHot))
        object.append(key: "priority", value: .number(JSONNumber(priority)))
        return .object(object)
    }
}
