import DiscoCore

// MARK: - ApplyResult

/// What applying one replicated entry did to the cluster state.
public enum ApplyResult: Hashable, Sendable {
    /// The cluster got its name and epoch (the first initialize).
    case initialized(cluster: String, epoch: UInt64)
    /// A member was added (`previous` nil) or replaced.
    case memberUpdated(ClusterMember, previous: ClusterMember?)
    /// A member was removed.
    case memberRemoved(ClusterMember)
    /// An event was appended with this sequence number.
    case eventAppended(seq: UInt64)
    /// An idempotent append whose key was in the window: nothing was appended; the first append
    /// with that key made event `seq` at Raft `index`.
    case eventDuplicate(seq: UInt64, index: UInt64)
    /// The events up to this sequence number were dropped (`count` of them).
    case eventsTrimmed(through: UInt64, count: Int)
    /// A key-value transaction was applied, failed a condition, or was refused by a bound.
    case keyValue(KVTransactionResult)
    /// Nothing changed, for the reason given (a later initialize, an unknown member, an entry
    /// already applied, an entry that does not decode).
    case ignored(reason: String)
}

// MARK: - ClusterState

/// The replicated cluster state: the cluster's name and epoch, its members and its event log.
///
/// A pure value: ``apply(_:index:)`` is deterministic, so every node that applies the same log
/// reaches the same state. ``ClusterStateMachine`` wraps it for Raft.
public struct ClusterState: Hashable, Sendable {
    /// The cluster name, once initialized.
    public private(set) var cluster: String?
    /// The cluster epoch, once initialized.
    public private(set) var epoch: UInt64?
    /// The members by ID.
    public private(set) var members: [NodeID: ClusterMember] = [:]
    /// The retained events, in sequence order (`events[k].seq == trimmedThrough + k + 1`).
    public private(set) var events: [ClusterEvent] = []
    /// The sequence number of the last event dropped by a trim (0 when none was).
    public private(set) var trimmedThrough: UInt64 = 0
    /// The total size of the retained events' data, in bytes.
    public private(set) var eventBytes: Int = 0
    /// The Raft index of the last entry applied (or of the snapshot restored).
    public private(set) var appliedIndex: UInt64 = 0
    /// Recent idempotency keys of appended events.
    public private(set) var idempotency = IdempotencyWindow()
    /// The replicated key-value state of plug-ins.
    public private(set) var keyValues = KVStore()

    /// An empty, uninitialized state.
    public init() {}

    init(cluster: String?, epoch: UInt64?, members: [NodeID: ClusterMember], events: [ClusterEvent], trimmedThrough: UInt64,
         appliedIndex: UInt64, idempotency: IdempotencyWindow = IdempotencyWindow(), keyValues: KVStore = KVStore()) {
        self.cluster = cluster
        self.epoch = epoch
        self.members = members
        self.events = events
        self.trimmedThrough = trimmedThrough
        self.eventBytes = events.reduce(0) { $0 + $1.data.count }
        self.appliedIndex = appliedIndex
        self.idempotency = idempotency
        self.keyValues = keyValues
    }

    /// The members ordered by ID.
    public var sortedMembers: [ClusterMember] { members.values.sorted { $0.id < $1.id } }

    /// The sequence number of the last event ever appended (0 when there is none), retained or not.
    public var lastSeq: UInt64 { trimmedThrough + UInt64(events.count) }

    /// The sequence number of the oldest retained event (``lastSeq`` + 1 when none is retained).
    public var firstSeq: UInt64 { trimmedThrough + 1 }

    /// Whether an initialize was applied.
    public var isInitialized: Bool { cluster != nil }

    // MARK: Reading events

    /// Retained events with a sequence number above `seq`, at most `limit` of them (after a trim
    /// that dropped events above `seq`, the page starts at ``firstSeq``).
    public func events(since seq: UInt64, limit: Int) -> [ClusterEvent] {
        guard limit > 0, seq < lastSeq else { return [] }
        let start = Int(max(seq, trimmedThrough) - trimmedThrough)
        return Array(events[start..<min(events.count, start + limit)])
    }

    // MARK: Retention

    /// The sequence number to trim through so that at most `maxEvents` events and `maxBytes`
    /// bytes of event data remain (a bound of 0 means none), or nil when both already hold.
    public func trimPoint(maxEvents: Int, maxBytes: Int) -> UInt64? {
        var drop = 0
        if maxEvents > 0, events.count > maxEvents { drop = events.count - maxEvents }
        if maxBytes > 0 {
            var bytes = eventBytes - events.prefix(drop).reduce(0) { $0 + $1.data.count }
            while bytes > maxBytes, drop < events.count {
                bytes -= events[drop].data.count
                drop += 1
            }
        }
        return drop > 0 ? trimmedThrough + UInt64(drop) : nil
    }

    // MARK: Applying

    /// Applies `command`, committed at Raft `index`. Indexes at or below ``appliedIndex`` are
    /// ignored (already applied), and so are commands over the size limits (which
    /// ``ClusterCommand/decode(_:)`` never yields), so the state always fits its snapshot format.
    /// Event data is expected to be one JSON value, as decoded commands guarantee.
    public mutating func apply(_ command: ClusterCommand, index: UInt64) -> ApplyResult {
        guard index > appliedIndex else {
            return .ignored(reason: "entry \(index) is at or below the applied index \(appliedIndex)")
        }
        appliedIndex = index
        if let problem = command.sizeProblem { return .ignored(reason: problem) }
        switch command {
        case .initialize(let name, let newEpoch):
            if let cluster, let epoch {
                return .ignored(reason: "already initialized as cluster \(cluster.debugDescription) epoch \(epoch)")
            }
            cluster = name
            epoch = newEpoch
            return .initialized(cluster: name, epoch: newEpoch)
        case .upsertMember(let member):
            // Only the member advances its generation, so a lower one is an old self-description
            // committed late (a replayed or delayed upsert): it must not move the member back.
            // Equal generations apply (last committed wins): within one generation the member's
            // addresses do not change, and voter, key and roles updates carry its generation.
            if let recorded = members[member.id], member.generation < recorded.generation {
                return .ignored(reason: "stale record of member \(member.id): generation \(member.generation) is below the recorded \(recorded.generation)")
            }
            let previous = members.updateValue(member, forKey: member.id)
            return .memberUpdated(member, previous: previous)
        case .removeMember(let id):
            guard let removed = members.removeValue(forKey: id) else {
                return .ignored(reason: "no member \(id) to remove")
            }
            return .memberRemoved(removed)
        case .appendEvent(let timeMillis, let data):
            return append(timeMillis: timeMillis, data: data, index: index)
        case .appendEventOnce(let timeMillis, let key, let data):
            idempotency.expire(now: timeMillis)
            if let first = idempotency.record(for: key) { return .eventDuplicate(seq: first.seq, index: first.index) }
            let result = append(timeMillis: timeMillis, data: data, index: index)
            idempotency.append(IdempotencyWindow.Record(key: key, seq: lastSeq, index: index, timeMillis: timeMillis))
            return result
        case .trimEvents(let through):
            guard through > trimmedThrough else {
                return .ignored(reason: "events through \(through) are already trimmed (through \(trimmedThrough))")
            }
            guard through <= lastSeq else {
                return .ignored(reason: "cannot trim through \(through): the last event is \(lastSeq)")
            }
            let count = Int(through - trimmedThrough)
            eventBytes -= events.prefix(count).reduce(0) { $0 + $1.data.count }
            events.removeFirst(count)
            trimmedThrough = through
            return .eventsTrimmed(through: through, count: count)
        case .kvTransaction(let transaction):
            return .keyValue(keyValues.apply(transaction, index: index))
        }
    }

    private mutating func append(timeMillis: Int64, data: [UInt8], index: UInt64) -> ApplyResult {
        let seq = lastSeq + 1
        events.append(ClusterEvent(seq: seq, index: index, timeMillis: timeMillis, data: data))
        eventBytes += data.count
        return .eventAppended(seq: seq)
    }

    /// Records that the entry at `index` was applied without changing anything (it did not
    /// decode). Returns false for an index at or below ``appliedIndex``.
    @discardableResult
    public mutating func skip(index: UInt64) -> Bool {
        guard index > appliedIndex else { return false }
        appliedIndex = index
        return true
    }
}

// MARK: - Size limits

extension ClusterCommand {
    /// Why the command exceeds a size limit, or nil.
    var sizeProblem: String? {
        let names: [(String, String)] = switch self {
        case .initialize(let cluster, _): [("cluster", cluster)]
        case .upsertMember(let member):
            [("id", member.id.rawValue), ("raftAddress", member.raftAddress), ("apiAddress", member.apiAddress)]
        case .removeMember(let id): [("id", id.rawValue)]
        case .appendEvent, .trimEvents, .appendEventOnce, .kvTransaction: []
        }
        for (field, text) in names {
            if let problem = ClusterFieldCheck.nameProblem(text) { return "\(field) is too long: \(problem)" }
        }
        switch self {
        case .appendEvent(_, let data), .appendEventOnce(_, _, let data):
            if data.count > ClusterLimits.maxEventBytes {
                return "event data is too large: \(data.count) bytes exceeds the limit of \(ClusterLimits.maxEventBytes) bytes"
            }
        case .upsertMember(let member):
            if let (field, problem) = member.encodingProblem(field: "") { return "\(field): \(problem)" }
        case .kvTransaction(let transaction):
            if let problem = transaction.problem { return problem }
        default:
            break
        }
        if case .appendEventOnce(_, let key, _) = self, let problem = IdempotencyWindow.problem(with: key) {
            return "idempotency key \(problem)"
        }
        return nil
    }
}
