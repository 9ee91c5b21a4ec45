// MARK: - RaftStateMachine

/// The application state a ``RaftNodeShell`` replicates.
///
/// The shell calls these methods from its own thread, one at a time, in log order; they should
/// not block for long (the node cannot make progress meanwhile). The type is `Sendable` because
/// the application usually reads its state from other tasks too, after
/// ``RaftNodeShell/readIndex()``.
public protocol RaftStateMachine: Sendable {
    /// Applies one committed application entry (``EntryKind/normal``). Entries arrive exactly
    /// once per process lifetime, in index order; after a restart, application resumes after the
    /// snapshot the state was restored from.
    func apply(_ entry: Entry)

    /// The state as of the last applied entry, as bytes (a snapshot, for log compaction and for
    /// followers too far behind).
    func takeSnapshot() -> [UInt8]

    /// The state as of the last applied entry, as a source the shell writes straight to the
    /// snapshot file in parts (see ``SnapshotSource``). The shell calls it on its thread and
    /// writes the source before it applies anything more; the source should still read a
    /// consistent view (a copy-on-write value), since other tasks may hold the state too. The
    /// default takes ``takeSnapshot()`` (one buffer the size of the state); implement it so a
    /// snapshot costs no such buffer.
    func snapshotSource() -> SnapshotSource

    /// Replaces the whole state with a snapshot taken by ``takeSnapshot()`` (on this node or the
    /// leader). Throwing stops the node: the snapshot cannot be trusted.
    func restore(from snapshot: [UInt8]) throws
}

extension RaftStateMachine {
    /// ``takeSnapshot()``, written as one part.
    public func snapshotSource() -> SnapshotSource { SnapshotSource(takeSnapshot()) }
}
