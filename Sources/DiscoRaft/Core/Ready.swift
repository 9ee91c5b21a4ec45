import DiscoCore

// MARK: - Ready

/// A batch of work for the shell. Handle it in this order, then call ``RaftNode/advance(_:)``:
///
/// 1. Persist `snapshot` (if any), then `entries` (an entry at index *i* replaces any stored
///    entry at *i* and after), then `hardState`, and make them durable (one fsync for all).
/// 2. Only then send `messages`: votes and acknowledgements in them depend on step 1.
/// 3. Restore the state machine from `snapshot` (if any), then apply `committedEntries` in order.
/// 4. Deliver `readStates` and react to `softState`.
///
/// No other input may be given to the node between ``RaftNode/ready()`` and `advance`.
public struct Ready: Sendable {
    /// Role, term or leader changed to this.
    public var softState: SoftState?
    /// Term, vote or commit changed and must be persisted.
    public var hardState: HardState?
    /// Entries to append to storage.
    public var entries: [Entry] = []
    /// A snapshot received from the leader: persist it (dropping the log it covers) and restore
    /// the state machine from it.
    public var snapshot: Snapshot?
    /// Messages to send once everything above is durable.
    public var messages: [Message] = []
    /// Committed entries to apply, in order.
    public var committedEntries: [Entry] = []
    /// Answers to ``RaftNode/readIndex(context:)``.
    public var readStates: [ReadState] = []
    /// The log has grown past the snapshot threshold: the application should take a snapshot
    /// (``RaftNode/compact(through:data:)``).
    public var shouldSnapshot = false
    /// Whether step 1 needs an fsync: entries, a snapshot, or a new term or vote. A change of the
    /// commit index alone may be written without one (it is recovered from the log otherwise).
    public var mustSync = false

    public init() {}

    /// Whether there is nothing to do.
    public var isEmpty: Bool {
        softState == nil && hardState == nil && entries.isEmpty && snapshot == nil && messages.isEmpty
            && committedEntries.isEmpty && readStates.isEmpty && !shouldSnapshot
    }
}

/// The outcome of a linearizable read request.
public struct ReadState: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        /// Serve the read once the state machine has applied `index`.
        case ready(index: UInt64)
        /// This node is not (or no longer) the leader; retry at the leader.
        case notLeader(leader: NodeID?)
    }

    public var context: UInt64
    public var outcome: Outcome

    public init(context: UInt64, outcome: Outcome) {
        self.context = context
        self.outcome = outcome
    }
}
