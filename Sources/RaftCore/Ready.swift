import DiscoCore

// MARK: - Ready

/// A batch of work for the shell. Handle it in this order, then call ``RaftNode/advance(_:)``:
///
/// 1. Persist `snapshot` (if any), then `entries` (an entry at index *i* replaces any stored
///    entry at *i* and after), then `hardState`, and make them durable (one fsync for all).
/// 2. Only then send `messages`: votes and acknowledgements in them depend on step 1. Then
///    fulfil `snapshotSends` by reading the stored snapshot (see ``SnapshotSend``).
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
    /// Followers too far behind the log: send each the stored snapshot, after `messages`.
    public var snapshotSends: [SnapshotSend] = []
    /// Committed entries to apply, in order.
    public var committedEntries: [Entry] = []
    /// Answers to ``RaftNode/readIndex(context:)``.
    public var readStates: [ReadState] = []
    /// The log has grown past the snapshot threshold: the application should take a snapshot
    /// (``RaftNode/compact(through:)``) and store it.
    public var shouldSnapshot = false
    /// Whether step 1 needs an fsync: entries, a snapshot, or a new term or vote. A change of the
    /// commit index alone may be written without one (it is recovered from the log otherwise).
    public var mustSync = false
    /// The node halted (``RaftNode/fault``): stop it with this error. Such a Ready carries
    /// nothing else; persist, send and apply nothing more.
    public var fault: RaftError?

    public init() {}

    /// Whether there is nothing to do.
    public var isEmpty: Bool {
        softState == nil && hardState == nil && entries.isEmpty && snapshot == nil && messages.isEmpty
            && snapshotSends.isEmpty && committedEntries.isEmpty && readStates.isEmpty && !shouldSnapshot && fault == nil
    }
}

/// A leader's request to send its snapshot to a follower whose next entries were compacted
/// away. The core keeps only the snapshot's metadata; the shell reads the snapshot it stored and
/// sends it with ``message(carrying:)``. A snapshot taken since may have replaced the one named
/// here: sending it instead is sound, as its own metadata travels with it (the follower installs
/// and acknowledges what it got). The stored snapshot is never older than `metadata`: a snapshot
/// is stored before the next ``RaftNode/ready()`` (``RaftNode/compact(through:)``, or step 1
/// for one installed from a leader).
public struct SnapshotSend: Sendable, Hashable {
    /// The leader (this node).
    public var from: NodeID
    /// The follower to send the snapshot to.
    public var to: NodeID
    /// The leader's term to send it in.
    public var term: UInt64
    /// The snapshot the leader decided to send (its follower progress waits for this index).
    public var metadata: SnapshotMetadata

    public init(from: NodeID, to: NodeID, term: UInt64, metadata: SnapshotMetadata) {
        self.from = from
        self.to = to
        self.term = term
        self.metadata = metadata
    }

    /// The InstallSnapshot message carrying `stored` (with the metadata of what was read), or nil
    /// when `stored` is older than the snapshot asked for: the follower would need entries the
    /// leader no longer holds, so nothing is sent and the leader tries again after an election
    /// timeout.
    public func message(carrying stored: Snapshot) -> Message? {
        guard stored.metadata.index >= metadata.index else { return nil }
        return Message(from: from, to: to, term: term, body: .installSnapshot(stored))
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

// MARK: - Sending before persisting

extension RaftNode {
    /// Splits a Ready's messages into those that may be sent before its entries and hard state
    /// are persisted, and those that must wait. A leader's appends and heartbeats may go out
    /// first, so followers write in parallel with the leader (Raft thesis §10.2.1): the leader
    /// counts its own entries towards a commit only once they are persisted (``advance(_:)``),
    /// and they promise nothing about its disk. Everything else (votes, acknowledgements) waits,
    /// and so does everything when the hard state's term or vote is changing.
    public func partitionMessages(of ready: Ready) -> (beforePersist: [Message], afterPersist: [Message]) {
        let termStable = ready.hardState.map { $0.term == persistedHardState.term && $0.vote == persistedHardState.vote } ?? true
        guard role == .leader, termStable else { return ([], ready.messages) }
        var before: [Message] = []
        var after: [Message] = []
        for message in ready.messages {
            switch message.body {
            case .append, .heartbeat: before.append(message)
            default: after.append(message)
            }
        }
        return (before, after)
    }
}
