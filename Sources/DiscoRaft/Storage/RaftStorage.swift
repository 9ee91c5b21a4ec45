// MARK: - RaftStorage

/// Durable storage for one node's Raft state: the log, the hard state and the latest snapshot.
///
/// Writes may be buffered until ``sync()``; only synced data is guaranteed to survive a crash.
/// The shell persists a ``Ready`` with ``persist(_:)`` before sending its messages.
public protocol RaftStorage {
    /// Everything recovered: hard state, snapshot position and the entries after it, plus the
    /// snapshot itself (its data is the application's state).
    func load() throws(RaftError) -> (state: PersistentState, snapshot: Snapshot?)
    /// Appends entries; an entry at index *i* replaces any stored entry at *i* and after.
    mutating func append(_ entries: [Entry]) throws(RaftError)
    /// Records new hard state.
    mutating func setHardState(_ state: HardState) throws(RaftError)
    /// Stores a snapshot the application took locally (``RaftNode/compact(through:)`` gave its
    /// metadata; `data` writes the state in parts, which durable storage writes straight to the
    /// file) and drops the entries it covers, keeping the entries after it (log compaction). On
    /// an error the previous snapshot stays.
    mutating func saveSnapshot(_ metadata: SnapshotMetadata, data: SnapshotSource) throws(RaftError)
    /// Stores a snapshot received from the leader and discards the whole log: entries after the
    /// snapshot's index may belong to another history and must not survive a restart.
    mutating func installSnapshot(_ snapshot: Snapshot) throws(RaftError)
    /// Makes everything written so far durable (one fsync for many writes: group commit).
    mutating func sync() throws(RaftError)
    /// The latest snapshot stored (saved or installed), read back with its own metadata, or nil
    /// when there is none: what a leader sends to a follower (``Ready/snapshotSends``).
    func storedSnapshot() throws(RaftError) -> Snapshot?
}

extension RaftStorage {
    /// Stores a snapshot held in one buffer (``saveSnapshot(_:data:)``).
    public mutating func saveSnapshot(_ snapshot: Snapshot) throws(RaftError) {
        try saveSnapshot(snapshot.metadata, data: SnapshotSource(snapshot.data))
    }

    /// Persists what a ``Ready`` asks for, in the required order, and syncs once if it must
    /// (a commit-only change is left for the next sync).
    public mutating func persist(_ ready: Ready) throws(RaftError) {
        if let snapshot = ready.snapshot { try installSnapshot(snapshot) }
        if !ready.entries.isEmpty { try append(ready.entries) }
        if let hardState = ready.hardState { try setHardState(hardState) }
        if ready.mustSync { try sync() }
    }
}

extension RaftStorage {
    /// Writes an initial state (e.g. ``PersistentState/bootstrap(voters:)``) into empty storage.
    public mutating func initialize(with state: PersistentState) throws(RaftError) {
        if !state.entries.isEmpty { try append(state.entries) }
        try setHardState(state.hardState)
        try sync()
    }
}

// MARK: - Recovery helper

/// Replays log records in write order: an entry at index *i* truncates everything from *i*.
struct LogReplay {
    var snapshotIndex: UInt64 = 0
    var entries: [Entry] = []

    var lastIndex: UInt64 { entries.last?.index ?? snapshotIndex }

    /// Applies one entry record; returns an error message for a gap.
    mutating func apply(_ entry: Entry) -> String? {
        if entry.index <= snapshotIndex {
            // Covered by the snapshot, but it still cut off whatever followed it when written:
            // entries after the snapshot recorded before it are from a replaced history.
            entries = []
            return nil
        }
        if entry.index > lastIndex + 1 {
            return "entry \(entry.index) follows \(lastIndex): the log has a gap"
        }
        if entry.index <= lastIndex {
            entries.removeLast(Int(lastIndex - entry.index + 1))
        }
        entries.append(entry)
        return nil
    }

    /// Moves the start of the log to a snapshot at `index`.
    mutating func compact(to index: UInt64) {
        guard index > snapshotIndex else { return }
        if let first = entries.first, index >= first.index {
            entries.removeFirst(min(entries.count, Int(index - first.index + 1)))
        }
        if entries.first.map({ $0.index != index + 1 }) ?? false { entries = [] }
        snapshotIndex = index
    }
}
