import DiscoCore

// MARK: - LeaseState

/// One group's lease as the replicated log has it. Times never appear here: each node keeps
/// its own apply times (``LeaseGrantor``), because clocks are not comparable across nodes.
public struct LeaseState: Hashable, Sendable {
    /// The replica the lease was granted to (nil before the first grant and after a release).
    public internal(set) var holder: NodeID?
    /// The fencing token of the latest grant: 1 for the first, one more for each grant after.
    /// 0 when the lease was never granted. Never decreases, also not across releases.
    public internal(set) var token: UInt64 = 0
    /// The process (incarnation) of the holder that renewed first after the grant; nil until then.
    public internal(set) var claimedBy: UInt64?
    /// The log index of the latest grant, renewal or release (0 before any): what a grant's
    /// compare-and-set names, and what each node times the ttl from.
    public internal(set) var lastChange: UInt64 = 0
    /// A requested switch-over target, until the next grant.
    public internal(set) var moveTo: NodeID?
    /// The replica of the latest grant, kept after it released the lease: the grantor passes it
    /// over while another replica is eligible (it just failed, stopped or gave the lease up).
    public internal(set) var lastHolder: NodeID?
    /// The holder's own ttl, as its latest applied renewal carried it (nil after a grant or a
    /// release, and from holders that predate it): a grantor waits the longer of it and its own
    /// ttl, so replicas with different `-lease-ttl` / `-lease-renew-deadline` (a rolling change)
    /// are never hot at once.
    public internal(set) var holderTTL: Duration?

    /// A group that was never granted.
    public init() {}

    /// A state with every field given: how a store that keeps the state itself (a key-value
    /// entry, etcd) reads it back.
    public init(holder: NodeID?, token: UInt64, claimedBy: UInt64?, lastChange: UInt64, moveTo: NodeID?, lastHolder: NodeID?,
                holderTTL: Duration? = nil) {
        self.holder = holder
        self.token = token
        self.claimedBy = claimedBy
        self.lastChange = lastChange
        self.moveTo = moveTo
        self.lastHolder = lastHolder
        self.holderTTL = holderTTL
    }

    /// Whether a holder has the lease (granted and not released).
    public var isHeld: Bool { holder != nil }
}

// MARK: - Apply results

/// Why a lease command changed nothing.
public enum LeaseRefusal: Hashable, Sendable, CustomStringConvertible {
    /// A grant based on a last change that is no longer the last.
    case changedSince(expected: UInt64, actual: UInt64)
    /// A renew or release from a replica that does not hold the lease.
    case notHolder(holder: NodeID?)
    /// A renew or release for a token that is not the current one.
    case staleToken(current: UInt64)
    /// A renewal from another process of the holder than the one that claimed the lease.
    case claimedByAnotherIncarnation(UInt64)
    /// A move to the replica that already holds the lease.
    case alreadyHolder
    /// A command at a log index at or below the group's last change (already applied).
    case alreadyApplied(lastChange: UInt64)

    public var description: String {
        switch self {
        case .changedSince(let expected, let actual): "the lease changed at index \(actual) after the base \(expected) the command named"
        case .notHolder(let holder): "the lease is \(holder.map { "held by \($0)" } ?? "not held")"
        case .staleToken(let current): "the current token is \(current)"
        case .claimedByAnotherIncarnation(let incarnation): "another process of the holder (incarnation \(incarnation)) claimed the lease"
        case .alreadyHolder: "the target already holds the lease"
        case .alreadyApplied(let lastChange): "the group last changed at index \(lastChange)"
        }
    }
}

/// What applying one lease command did.
public enum LeaseApplyResult: Hashable, Sendable {
    case granted(LeaseGroup, to: NodeID, token: UInt64)
    case renewed(LeaseGroup, holder: NodeID, token: UInt64)
    case released(LeaseGroup, holder: NodeID, token: UInt64)
    case moveRequested(LeaseGroup, to: NodeID)
    case refused(LeaseGroup, LeaseRefusal)

    /// Whether the command changed the state.
    public var changedState: Bool {
        if case .refused = self { return false }
        return true
    }
}

// MARK: - LeaseTable

/// Every group's lease: a pure value, so every node that applies the same log reaches the same
/// table.
public struct LeaseTable: Hashable, Sendable {
    /// The groups that were ever the subject of an applied command.
    public private(set) var groups: [LeaseGroup: LeaseState] = [:]

    public init() {}

    /// The state of `group` (a never-granted state when nothing was applied for it).
    public subscript(group: LeaseGroup) -> LeaseState { groups[group] ?? LeaseState() }

    /// Applies `command`, committed at log `index` (indexes grow along the log).
    public mutating func apply(_ command: LeaseCommand, index: UInt64) -> LeaseApplyResult {
        let (state, result) = self[command.group].applying(command, index: index)
        if result.changedState { groups[command.group] = state }
        return result
    }
}

// MARK: - Applying one command

extension LeaseState {
    /// The state after `command`, committed at log `index`, and what it did (the state is
    /// unchanged when the result is a refusal). ``LeaseTable/apply(_:index:)`` uses it; a store
    /// that keeps one group's state under a compare-and-set key uses it directly, with any
    /// `index` above ``lastChange`` that grows with every change.
    public func applying(_ command: LeaseCommand, index: UInt64) -> (state: LeaseState, result: LeaseApplyResult) {
        let group = command.group
        var state = self
        guard index > state.lastChange else { return (self, .refused(group, .alreadyApplied(lastChange: state.lastChange))) }
        let result: LeaseApplyResult
        switch command {
        case .grant(_, let to, let expected):
            guard state.lastChange == expected else {
                return (self, .refused(group, .changedSince(expected: expected, actual: state.lastChange)))
            }
            state.token += 1
            state.holder = to
            state.lastHolder = to
            state.claimedBy = nil
            state.holderTTL = nil
            state.lastChange = index
            state.moveTo = nil
            result = .granted(group, to: to, token: state.token)
        case .renew(_, let holder, let incarnation, let token, let ttl):
            if let refusal = Self.holderRefusal(state, holder: holder, token: token) { return (self, .refused(group, refusal)) }
            if let claimed = state.claimedBy, claimed != incarnation { return (self, .refused(group, .claimedByAnotherIncarnation(claimed))) }
            state.claimedBy = incarnation
            state.holderTTL = ttl
            state.lastChange = index
            result = .renewed(group, holder: holder, token: token)
        case .release(_, let holder, let token, let incarnation, let ifLastChange):
            if let refusal = Self.holderRefusal(state, holder: holder, token: token) { return (self, .refused(group, refusal)) }
            if let expected = ifLastChange {
                guard state.lastChange == expected else {
                    return (self, .refused(group, .changedSince(expected: expected, actual: state.lastChange)))
                }
            } else if let incarnation, let claimed = state.claimedBy, claimed != incarnation {
                return (self, .refused(group, .claimedByAnotherIncarnation(claimed)))
            }
            state.holder = nil
            state.claimedBy = nil
            state.holderTTL = nil
            state.lastChange = index
            result = .released(group, holder: holder, token: token)
        case .move(_, let to):
            guard state.holder != to else { return (self, .refused(group, .alreadyHolder)) }
            state.moveTo = to
            result = .moveRequested(group, to: to)
        }
        return (state, result)
    }

    private static func holderRefusal(_ state: LeaseState, holder: NodeID, token: UInt64) -> LeaseRefusal? {
        guard state.holder == holder else { return .notHolder(holder: state.holder) }
        guard state.token == token else { return .staleToken(current: state.token) }
        return nil
    }
}
