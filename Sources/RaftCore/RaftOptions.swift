// MARK: - RaftOptions

/// Tunables of the Raft core. Times are in ticks (the shell ticks every 100 ms by default).
public struct RaftOptions: Sendable, Hashable {
    /// Ticks between leader heartbeats.
    public var heartbeatTicks: Int = 1
    /// Base election timeout; each node draws its timeout from `[electionTicks, 2·electionTicks)`.
    public var electionTicks: Int = 5
    /// Ask for pre-votes before campaigning, so a partitioned node cannot bump the cluster's term.
    public var preVote: Bool = true
    /// Leaders step down without a quorum in an election timeout; followers with a live leader
    /// refuse votes.
    public var checkQuorum: Bool = true
    /// Serve ReadIndex from the leader's lease without a heartbeat round while a quorum answered
    /// a heartbeat sent less than `electionTicks - 1` ticks ago, and the leader has not handed
    /// leadership over in its term; otherwise a read waits for a heartbeat round as usual. Relies
    /// on bounded clock drift and on followers keeping their lease across restarts (a follower
    /// that restarts votes at once); requires `checkQuorum`. Off by default.
    public var leaseReads: Bool = false
    /// Maximum entries in one append.
    public var maxEntriesPerAppend: Int = 64
    /// Maximum bytes of entries in one append (at least one entry is always sent).
    public var maxBytesPerAppend: Int = 1 << 20
    /// Maximum appends in flight to one follower in the replicate state.
    public var maxInflightAppends: Int = 256
    /// Suggest a snapshot once this many entries were applied since the last one (0 = no count
    /// bound; with ``snapshotThresholdBytes`` 0 too, never).
    public var snapshotThreshold: Int = 8192
    /// Suggest a snapshot once the applied entries kept since the last one hold this many bytes
    /// (0 = no size bound). The log is kept in memory until a snapshot lets it go, so without a
    /// size bound ``snapshotThreshold`` large entries (up to 8192 of 1 MiB) would all be held.
    public var snapshotThresholdBytes: Int = 64 << 20
    /// Refuse to promote a learner that is not caught up (see ``RaftNode/learnerProgress``).
    /// Always on outside tests: the simulator turns it off to prove its invariant checker catches
    /// the phantom voters that promoting regardless creates.
    package var requiresCaughtUpLearners = true

    public init() {}

    /// Checks the options, naming the first one that is out of range.
    public func validate() throws(RaftError) {
        guard heartbeatTicks >= 1 else {
            throw RaftError(.invalidArgument, "heartbeatTicks must be at least 1, got \(heartbeatTicks)")
        }
        guard electionTicks > heartbeatTicks else {
            throw RaftError(.invalidArgument,
                            "electionTicks (\(electionTicks)) must be greater than heartbeatTicks (\(heartbeatTicks))")
        }
        guard maxEntriesPerAppend >= 1, maxBytesPerAppend >= 1, maxInflightAppends >= 1 else {
            throw RaftError(.invalidArgument, "append batch and in-flight limits must be at least 1")
        }
        guard !leaseReads || checkQuorum else {
            throw RaftError(.invalidArgument, "leaseReads requires checkQuorum")
        }
        guard snapshotThreshold >= 0, snapshotThresholdBytes >= 0 else {
            throw RaftError(.invalidArgument, "snapshotThreshold and snapshotThresholdBytes must not be negative")
        }
    }
}
