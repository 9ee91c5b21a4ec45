import DiscoCore

// MARK: - RaftNode

/// A Raft group member as a pure value: inputs (`tick`, `receive`, `propose`, …) change its
/// state, and ``ready()`` hands the resulting effects to the shell. It never reads a clock,
/// touches a disk or a socket, or uses system randomness.
public struct RaftNode: Sendable {
    public let id: NodeID
    public let options: RaftOptions

    // MARK: Durable state
    public internal(set) var term: UInt64
    public internal(set) var vote: NodeID?
    var log: RaftLog

    // MARK: Volatile state
    public internal(set) var role: RaftRole = .follower
    public internal(set) var leader: NodeID?
    /// The configuration in force: the latest config entry in the log (or the snapshot's).
    public internal(set) var config: ClusterConfig
    /// Index of the entry that set `config` (the snapshot index when it came from a snapshot).
    public internal(set) var configIndex: UInt64
    /// The configuration in force at the last snapshot (with the log's snapshot index and term,
    /// the metadata of the snapshot the shell stores). The core keeps no snapshot's data: that is
    /// as large as the application's whole state, and storage already holds it.
    var snapshotConfig: ClusterConfig
    package var random: DeterministicRandom
    var electionElapsed = 0
    /// How many times this node heard from the leader of its term (its appends, heartbeats and
    /// snapshots): a shell stamps its clock whenever the count moves, to tell how long ago that was.
    public internal(set) var leaderContacts: UInt64 = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    var votes: [NodeID: Bool] = [:]
    var progress: [NodeID: Progress] = [:]
    var leadTransferee: NodeID?
    var transferElapsed = 0
    var reads = ReadIndexQueue()
    /// Leader: how long reads may be answered without a heartbeat round (``RaftOptions/leaseReads``).
    var lease = LeaderLease()
    /// Follower: the highest commit index a leader announced to this node (see
    /// ``leaderCommitIndex``); it may be above ``commitIndex`` while the log is behind.
    var announcedCommit: UInt64 = 0
    /// A member's word that this node was removed (see ``removal``).
    var removalNotice: Removal?
    /// Leader: members dropped by an uncommitted configuration entry, with its index.
    var pendingRemovalNotices: [NodeID: UInt64] = [:]
    /// Leader: removed members still being told so, with the ticks left.
    var removalReminders: [NodeID: (configIndex: UInt64, ticksLeft: Int)] = [:]
    /// A removed leader that handed over: the voter it told to campaign, and the ticks since (see
    /// ``retryHandover()``).
    var handoverRetry: (successor: NodeID, ticks: Int)?

    // MARK: Output
    var outbox: [Message] = []
    var snapshotSends: [SnapshotSend] = []
    var readStates: [ReadState] = []
    var pendingSnapshot: Snapshot?
    var persistedHardState: HardState
    var reportedSoftState: SoftState?
    var snapshotSuggested = false

    // MARK: Fault
    /// Why the node halted, if it did: a configuration entry that cannot be decoded (received or
    /// recovered). A halted node ignores every input, refuses every request with this error, and
    /// hands it out once in ``Ready/fault``; its shell must stop.
    public internal(set) var fault: RaftError?
    var faultReported = false

    /// Creates a node from what storage recovered (``PersistentState/bootstrap(voters:)`` for a
    /// new cluster, an empty state for a node that will be added to an existing one). The
    /// snapshot's data is not needed: a leader asks the shell to send the stored snapshot to a
    /// follower that is too far behind (``Ready/snapshotSends``).
    public init(id: NodeID, options: RaftOptions = RaftOptions(), state: PersistentState,
                random: DeterministicRandom) throws(RaftError) {
        try options.validate()
        self.id = id
        self.options = options
        self.random = random
        let snapshotMeta = state.snapshot
        log = RaftLog(snapshotIndex: snapshotMeta?.index ?? 0, snapshotTerm: snapshotMeta?.term ?? 0,
                      entries: state.entries)
        for (offset, entry) in state.entries.enumerated() where entry.index != log.firstIndex + UInt64(offset) {
            throw RaftError(.corruptStorage, "entry \(offset) has index \(entry.index), expected \(log.firstIndex + UInt64(offset))")
        }
        for entry in state.entries where entry.kind == .config {
            _ = try Self.decodeConfig(entry, from: "storage")
        }
        term = state.hardState.term
        vote = state.hardState.vote
        log.committed = min(max(state.hardState.commit, log.snapshotIndex), log.lastIndex)
        snapshotConfig = snapshotMeta?.config ?? ClusterConfig(voters: [])
        config = snapshotConfig
        configIndex = log.snapshotIndex
        persistedHardState = state.hardState
        try refreshConfig()
        resetRandomizedElectionTimeout()
    }

    // MARK: Status

    /// The highest committed index.
    public var commitIndex: UInt64 { log.committed }
    /// The highest commit index this node knows the group reached: the commit index on the
    /// leader; on another member, the highest one a leader announced in an append (or
    /// snapshot), which is above ``commitIndex`` while this node's log is behind — a follower
    /// only commits entries it holds. A node that has applied through it has caught up with the
    /// leader as of that leader's last append (at most a heartbeat old). It only grows: an index
    /// once committed stays committed under every later leader.
    public var leaderCommitIndex: UInt64 { max(log.committed, announcedCommit) }
    /// The highest index handed out for applying.
    public var appliedIndex: UInt64 { log.applied }
    public var lastIndex: UInt64 { log.lastIndex }
    public var lastTerm: UInt64 { log.lastTerm }
    public var firstIndex: UInt64 { log.firstIndex }
    /// The index the log was last compacted to (0 when never).
    public var snapshotIndex: UInt64 { log.snapshotIndex }
    /// The last snapshot's metadata (taken here or installed from a leader), nil when there is
    /// none: what storage holds with the snapshot's data.
    public var snapshotMetadata: SnapshotMetadata? {
        log.snapshotIndex > 0 ? SnapshotMetadata(index: log.snapshotIndex, term: log.snapshotTerm, config: snapshotConfig) : nil
    }
    /// The term of the entry at `index`, if it is in the log (or is the snapshot's last entry).
    public func term(at index: UInt64) -> UInt64? { log.term(at: index) }
    /// The entry at `index`, if held in memory.
    public func entry(at index: UInt64) -> Entry? { log.entry(at: index) }
    /// Entries held in memory (after the last snapshot).
    public var entries: [Entry] { log.entries }
    public var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }
    public var softState: SoftState { SoftState(role: role, term: term, leader: leader) }
    /// Whether this node may campaign (it is a voter in its configuration and was not told it
    /// was removed).
    public var isPromotable: Bool { config.isVoter(id) && removalNotice == nil }
    /// The leader's view of a follower's match index (leaders only).
    public func matchIndex(of peer: NodeID) -> UInt64? { progress[peer]?.match }

    // MARK: Ready / advance

    /// Whether ``ready()`` has anything to hand out.
    public var hasReady: Bool {
        if fault != nil { return !faultReported }
        return softState != reportedSoftState || hardState != persistedHardState || log.persisted < log.lastIndex
            || pendingSnapshot != nil || !outbox.isEmpty || !snapshotSends.isEmpty || applicableThrough > log.applied || !readStates.isEmpty
            || wantsSnapshot
    }

    private var applicableThrough: UInt64 { min(log.committed, log.persisted) }
    private var wantsSnapshot: Bool {
        guard !snapshotSuggested else { return false }
        return (options.snapshotThreshold > 0 && log.applied >= log.snapshotIndex + UInt64(options.snapshotThreshold))
            || (options.snapshotThresholdBytes > 0 && log.appliedBytes >= options.snapshotThresholdBytes)
    }

    /// Takes the pending effects. See ``Ready`` for what the shell must do with them.
    public mutating func ready() -> Ready {
        var ready = Ready()
        if let fault {
            ready.fault = fault
            faultReported = true
            return ready
        }
        if softState != reportedSoftState { ready.softState = softState }
        if hardState != persistedHardState { ready.hardState = hardState }
        ready.snapshot = pendingSnapshot
        ready.entries = log.unpersisted
        ready.messages = outbox
        outbox = []
        ready.snapshotSends = snapshotSends
        snapshotSends = []
        if pendingSnapshot == nil, applicableThrough > log.applied {
            ready.committedEntries = log.slice(from: log.applied + 1, through: applicableThrough)
        }
        ready.readStates = readStates
        readStates = []
        if wantsSnapshot {
            ready.shouldSnapshot = true
            snapshotSuggested = true
        }
        ready.mustSync = !ready.entries.isEmpty || ready.snapshot != nil
            || term != persistedHardState.term || vote != persistedHardState.vote
        return ready
    }

    /// Acknowledges that the shell handled `ready`: its state is durable, its messages are sent and
    /// its committed entries are applied.
    public mutating func advance(_ ready: Ready) {
        if let soft = ready.softState { reportedSoftState = soft }
        if let hard = ready.hardState { persistedHardState = hard }
        if let installed = ready.snapshot, pendingSnapshot?.metadata == installed.metadata {
            pendingSnapshot = nil
            log.markApplied(through: installed.metadata.index)
            log.persisted = max(log.persisted, installed.metadata.index)
        }
        if let last = ready.entries.last, log.term(at: last.index) == last.term {
            log.persisted = max(log.persisted, last.index)
        }
        if let applied = ready.committedEntries.last {
            log.markApplied(through: applied.index)
        }
        if role == .leader, maybeCommit() { broadcastAppend() }
    }

    // MARK: Inputs

    /// Advances logical time by one tick.
    public mutating func tick() {
        guard fault == nil else { return }
        if role == .leader { tickLeader() } else { tickElection() }
    }

    /// Starts an election now (with pre-vote when enabled).
    public mutating func campaign() {
        guard role != .leader, fault == nil else { return }
        startCampaign(preVote: options.preVote, transfer: false)
    }

    /// Proposes application data; returns the index it will have if it commits.
    @discardableResult
    public mutating func propose(_ data: [UInt8]) throws(RaftError) -> UInt64 {
        try checkCanPropose()
        return appendAsLeader(kind: .normal, data: data)
    }

    // MARK: Helpers

    mutating func send(_ body: MessageBody, to peer: NodeID, term messageTerm: UInt64? = nil) {
        outbox.append(Message(from: id, to: peer, term: messageTerm ?? term, body: body))
    }

    mutating func resetRandomizedElectionTimeout() {
        randomizedElectionTimeout = options.electionTicks + Int.random(in: 0..<options.electionTicks, using: &random)
    }

    func checkCanPropose() throws(RaftError) {
        if let fault { throw fault }
        guard role == .leader else { throw RaftError(.notLeader, "\(id) is not the leader; leader is \(leader?.rawValue ?? "unknown")") }
        guard leadTransferee == nil else {
            throw RaftError(.transferInProgress, "leadership is being transferred to \(leadTransferee?.rawValue ?? "?")")
        }
    }

    /// Recomputes `config` from the newest config entry in the log, or the snapshot's. Every
    /// config entry was decoded before it entered the log, so this fails only on a broken
    /// invariant; the callers that cannot throw halt the node then (``refreshConfigOrHalt()``).
    mutating func refreshConfig() throws(RaftError) {
        var found: (ClusterConfig, UInt64)?
        if let entry = log.entries.last(where: { $0.kind == .config }) {
            found = (try Self.decodeConfig(entry, from: "the log"), entry.index)
        }
        let (newConfig, newIndex) = found ?? (snapshotConfig, log.snapshotIndex)
        config = newConfig
        configIndex = newIndex
        if let notice = removalNotice, config.contains(id), configIndex > notice.configIndex { removalNotice = nil }
        if role == .leader { syncProgressWithConfig() }
    }

    /// Adds progress for new members and drops it for removed ones.
    mutating func syncProgressWithConfig() {
        for member in config.members where member != id && progress[member] == nil {
            progress[member] = Progress(next: log.lastIndex + 1)
        }
        for member in progress.keys.sorted() where !config.contains(member) {
            progress[member] = nil
        }
    }
}
