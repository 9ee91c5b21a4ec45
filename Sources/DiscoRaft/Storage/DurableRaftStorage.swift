// MARK: - DurableRaftStorage

/// Raft storage on disk: a segmented WAL for entries and commit marks, plus two small files
/// replaced atomically (temp file, fsync, rename, directory fsync): `hardstate` (term, vote,
/// commit) and `snapshot`.
///
/// Layout of `directory`: `wal/*.wal`, `hardstate`, `snapshot`. Term and vote changes rewrite
/// `hardstate` at once (with a commit index no higher than it was); commit changes are appended
/// to the WAL, after the entries they may cover, and become durable with the next group-commit
/// ``sync()``.
public final class DurableRaftStorage: RaftStorage {
    /// The default segment size (64 MiB).
    public static let defaultSegmentSize = 64 << 20

    public let directory: String
    private let wal: SegmentedWAL
    private var fileHardState: HardState
    /// The snapshot file's first WAL segment that counts (kept without the snapshot: the state
    /// it holds is as large as the node's whole state, and is read from disk when needed).
    private var snapshotFirstSegment: UInt64
    /// Where recovery cut a torn tail, if it did: "file at offset N: reason".
    public let repairedTail: String?

    private var hardStatePath: String { directory + "/hardstate" }
    private var snapshotPath: String { directory + "/snapshot" }

    /// Opens or creates storage in `directory`, recovering its contents. A torn tail of the last
    /// WAL segment (a write cut short) is truncated; damage to anything written in full is an
    /// error naming the file and offset.
    public init(directory: String, segmentSize: Int = DurableRaftStorage.defaultSegmentSize) throws(RaftError) {
        self.directory = directory
        try FileIO.makeDirectory(directory)
        // Recovering here validates the log (gaps are refused) before anything is appended.
        var recovering = try LogRecovery(directory: directory)
        let (wal, recovery) = try SegmentedWAL.open(directory: directory + "/wal", segmentSize: max(4096, segmentSize)) {
            segment, record throws(RaftError) in try recovering.visit(segment, record)
        }
        try recovering.checkTerms()
        self.wal = wal
        repairedTail = recovery.truncatedTail.map { "\($0.file) at offset \($0.offset): \($0.reason)" }
        fileHardState = recovering.fileHardState
        snapshotFirstSegment = recovering.snapshotFile?.firstSegment ?? 0
    }

    /// Everything durable on disk now (what a restart would recover; unsynced writes are not
    /// included).
    public func load() throws(RaftError) -> (state: PersistentState, snapshot: Snapshot?) {
        var recovering = try LogRecovery(directory: directory)
        _ = try SegmentedWAL.scan(directory: directory + "/wal", repair: false) {
            segment, record throws(RaftError) in try recovering.visit(segment, record)
        }
        try recovering.checkTerms()
        return (recovering.state, recovering.snapshotFile?.snapshot)
    }

    public func append(_ entries: [Entry]) throws(RaftError) {
        for entry in entries { wal.append(.entry(entry)) }
    }

    public func setHardState(_ state: HardState) throws(RaftError) {
        if state.term != fileHardState.term || state.vote != fileHardState.vote {
            // Term and vote are durable at once; a higher commit index goes to the WAL after the
            // entries appended with it. In this file it would be durable before them, and a crash
            // before the sync would leave it covering entries of an older term that the new ones
            // were to replace: a restarted node would apply entries that never committed.
            let written = HardState(term: state.term, vote: state.vote, commit: min(state.commit, fileHardState.commit))
            try FileIO.writeAtomically(Self.checked(RaftCodec.encode(written)), to: hardStatePath)
            fileHardState = written
            if state.commit != written.commit { wal.append(.commit(state.commit)) }
        } else if state.commit != fileHardState.commit {
            wal.append(.commit(state.commit))
        }
    }

    /// Writes the snapshot file straight from `data`, in its parts (the state is never joined in
    /// one buffer), then drops the WAL segments it covers.
    public func saveSnapshot(_ metadata: SnapshotMetadata, data: SnapshotSource) throws(RaftError) {
        try wal.sync()
        try SnapshotFile.write(firstSegment: snapshotFirstSegment, metadata: metadata, data: data, to: snapshotPath)
        try wal.removeSegments(through: metadata.index)
    }

    /// Stores a snapshot held in one buffer (``saveSnapshot(_:data:)``).
    public func saveSnapshot(_ snapshot: Snapshot) throws(RaftError) {
        try saveSnapshot(snapshot.metadata, data: SnapshotSource(snapshot.data))
    }

    public func installSnapshot(_ snapshot: Snapshot) throws(RaftError) {
        // A leader's snapshot may be of a term this node has not stored yet (the Ready that
        // carries it stores the new term after it): store that term first, with no vote (a vote
        // in it would have been stored before it was sent), so that the snapshot file never
        // holds a term above the hard state's, which recovery refuses.
        if snapshot.metadata.term > fileHardState.term {
            let written = HardState(term: snapshot.metadata.term, vote: nil, commit: fileHardState.commit)
            try FileIO.writeAtomically(Self.checked(RaftCodec.encode(written)), to: hardStatePath)
            fileHardState = written
        }
        try wal.sync()
        // Entries written before this point may belong to another history: start a new segment and
        // record in the snapshot file that older segments no longer count.
        let firstSegment = try wal.rollOver()
        try SnapshotFile.write(firstSegment: firstSegment, metadata: snapshot.metadata, data: SnapshotSource(snapshot.data), to: snapshotPath)
        snapshotFirstSegment = firstSegment
        try wal.removeSegments(through: 0, before: firstSegment)
    }

    /// Reads the snapshot file (the core keeps no snapshot's data; a leader reads it to send it).
    public func storedSnapshot() throws(RaftError) -> Snapshot? {
        FileIO.exists(snapshotPath) ? try SnapshotFile.read(snapshotPath).snapshot : nil
    }

    /// Writes buffered records and fsyncs once (group commit).
    public func sync() throws(RaftError) { try wal.sync() }

    /// Number of WAL fsyncs so far.
    public var syncCount: Int { wal.syncCount }
    /// Number of WAL segment files.
    public var segmentCount: Int { wal.segments.count }

    // MARK: Checked small files

    /// `[u32 CRC32C][payload]`.
    private static func checked(_ payload: [UInt8]) -> [UInt8] {
        var writer = ByteWriter()
        writer.u32(CRC32C.checksum(payload))
        writer.bytes.append(contentsOf: payload)
        return writer.bytes
    }

    fileprivate static func decodeChecked<T>(_ bytes: [UInt8], file: String,
                                         _ decode: ([UInt8]) throws(RaftError) -> T) throws(RaftError) -> T {
        guard bytes.count >= 4 else { throw RaftError(.corruptStorage, "\(file): only \(bytes.count) bytes, expected a checksum and a payload") }
        let stored = bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let payload = Array(bytes[4...])
        guard CRC32C.checksum(payload) == stored else { throw RaftError(.corruptStorage, "\(file) at offset 4: checksum mismatch") }
        do {
            return try decode(payload)
        } catch {
            throw RaftError(.corruptStorage, "\(file): \(error.message)")
        }
    }
}

// MARK: - LogRecovery

/// Rebuilds the persistent state from the small files and the WAL records, one record at a time:
/// entries the snapshot covers are dropped as they are read, so recovery holds only the log that
/// still counts (not every record of every segment).
private struct LogRecovery {
    /// The hard state file as written (term and vote; its commit may be behind the WAL's marks).
    let fileHardState: HardState
    let snapshotFile: SnapshotFile?
    private var hard: HardState
    private var replay = LogReplay()
    private let directory: String

    init(directory: String) throws(RaftError) {
        self.directory = directory
        let hardStatePath = directory + "/hardstate"
        let snapshotPath = directory + "/snapshot"
        var hard = HardState()
        if FileIO.exists(hardStatePath) {
            hard = try DurableRaftStorage.decodeChecked(try FileIO.readAll(hardStatePath), file: hardStatePath, RaftCodec.decodeHardState)
        }
        fileHardState = hard
        self.hard = hard
        snapshotFile = FileIO.exists(snapshotPath) ? try SnapshotFile.read(snapshotPath) : nil
        replay.snapshotIndex = snapshotFile?.snapshot.metadata.index ?? 0
    }

    /// Takes the next record read from the WAL.
    mutating func visit(_ segment: UInt64, _ record: WALFormat.Record) throws(RaftError) {
        guard segment >= snapshotFile?.firstSegment ?? 0 else { return }
        switch record {
        case .entry(let entry):
            if let gap = replay.apply(entry) {
                // A log that starts after entry 1 with no snapshot before it: the snapshot that
                // compacted the log away is gone.
                let missing = snapshotFile == nil && replay.entries.isEmpty && entry.index > 1
                    ? "; there is no snapshot file \(directory)/snapshot, which held the entries before it: restore it from a "
                        + "backup, or move this node's data directory away and let it join the cluster again as a new member"
                    : ""
                throw RaftError(.corruptStorage, "\(directory)/wal segment \(segment): \(gap)\(missing)")
            }
        case .commit(let index):
            hard.commit = max(hard.commit, index)
        }
    }

    /// Refuses a hard state whose term is below the snapshot's or a log entry's: a node stores a
    /// term before any entry or snapshot of it, so the file was deleted or replaced by an older
    /// copy, and the node could vote a second time in a term it already voted in.
    func checkTerms() throws(RaftError) {
        let path = directory + "/hardstate"
        let logTerm = replay.entries.map(\.term).max() ?? 0
        let snapshotTerm = snapshotFile?.snapshot.metadata.term ?? 0
        let (highest, holder) = logTerm >= snapshotTerm
            ? (logTerm, "the log in \(directory)/wal holds entries of term \(logTerm)")
            : (snapshotTerm, "the snapshot \(directory)/snapshot is of term \(snapshotTerm)")
        guard highest > fileHardState.term else { return }
        let found = FileIO.exists(path) ? "\(path) holds term \(fileHardState.term)" : "\(path) is missing"
        throw RaftError(.corruptStorage, "\(found), but \(holder): a node stores a term before any entry of it, so this file "
            + "was deleted or replaced by an older copy, and the node could vote twice in one term: restore it from a backup, "
            + "or move this node's data directory away and let it join the cluster again as a new member")
    }

    /// What was recovered.
    var state: PersistentState { PersistentState(hardState: hard, snapshot: snapshotFile?.snapshot.metadata, entries: replay.entries) }
}
