// MARK: - DurableRaftStorage

/// Raft storage on disk: a segmented WAL for entries and commit marks, plus two small files
/// replaced atomically (temp file, fsync, rename, directory fsync): `hardstate` (term, vote,
/// commit) and `snapshot`.
///
/// Layout of `directory`: `wal/*.wal`, `hardstate`, `snapshot`. Term and vote changes rewrite
/// `hardstate` at once; commit-only changes are appended to the WAL and become durable with the
/// next group-commit ``sync()``.
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

    /// Opens or creates storage in `directory`, recovering its contents. A torn or corrupt tail
    /// of the last WAL segment is truncated; corruption anywhere else is an error naming the file
    /// and offset.
    public init(directory: String, segmentSize: Int = DurableRaftStorage.defaultSegmentSize) throws(RaftError) {
        self.directory = directory
        try FileIO.makeDirectory(directory)
        let (wal, recovery) = try SegmentedWAL.open(directory: directory + "/wal", segmentSize: max(4096, segmentSize))
        self.wal = wal
        repairedTail = recovery.truncatedTail.map { "\($0.file) at offset \($0.offset): \($0.reason)" }
        // Recovering here validates the log (gaps are refused) before anything is appended.
        let (_, snapshotFile, fileHard) = try Self.recover(directory: directory, records: recovery.records)
        fileHardState = fileHard
        snapshotFirstSegment = snapshotFile?.firstSegment ?? 0
    }

    /// Rebuilds the persistent state from the small files and the WAL records.
    private static func recover(directory: String, records: [(segment: UInt64, record: WALFormat.Record)])
        throws(RaftError) -> (PersistentState, SnapshotFile?, HardState) {
        let hardStatePath = directory + "/hardstate"
        let snapshotPath = directory + "/snapshot"
        var hard = HardState()
        if FileIO.exists(hardStatePath) {
            hard = try decodeChecked(try FileIO.readAll(hardStatePath), file: hardStatePath, RaftCodec.decodeHardState)
        }
        let fileHard = hard
        var snapshotFile: SnapshotFile?
        if FileIO.exists(snapshotPath) {
            snapshotFile = try decodeChecked(try FileIO.readAll(snapshotPath), file: snapshotPath, SnapshotFile.decode)
        }
        var replay = LogReplay()
        replay.snapshotIndex = snapshotFile?.snapshot.metadata.index ?? 0
        for (segment, record) in records where segment >= (snapshotFile?.firstSegment ?? 0) {
            switch record {
            case .entry(let entry):
                if let gap = replay.apply(entry) {
                    throw RaftError(.corruptStorage, "\(directory)/wal segment \(segment): \(gap)")
                }
            case .commit(let index):
                hard.commit = max(hard.commit, index)
            }
        }
        let state = PersistentState(hardState: hard, snapshot: snapshotFile?.snapshot.metadata, entries: replay.entries)
        return (state, snapshotFile, fileHard)
    }

    /// Everything durable on disk now (what a restart would recover; unsynced writes are not
    /// included).
    public func load() throws(RaftError) -> (state: PersistentState, snapshot: Snapshot?) {
        let (_, recovery) = try SegmentedWAL.scan(directory: directory + "/wal", repair: false)
        let (state, snapshotFile, _) = try Self.recover(directory: directory, records: recovery.records)
        return (state, snapshotFile?.snapshot)
    }

    public func append(_ entries: [Entry]) throws(RaftError) {
        for entry in entries { wal.append(.entry(entry)) }
    }

    public func setHardState(_ state: HardState) throws(RaftError) {
        if state.term != fileHardState.term || state.vote != fileHardState.vote {
            try FileIO.writeAtomically(Self.checked(RaftCodec.encode(state)), to: hardStatePath)
            fileHardState = state
        } else if state.commit != fileHardState.commit {
            wal.append(.commit(state.commit))
        }
    }

    public func saveSnapshot(_ snapshot: Snapshot) throws(RaftError) {
        try wal.sync()
        let file = SnapshotFile(firstSegment: snapshotFirstSegment, snapshot: snapshot)
        try FileIO.writeAtomically(Self.checked(file.encode()), to: snapshotPath)
        try wal.removeSegments(through: snapshot.metadata.index)
    }

    public func installSnapshot(_ snapshot: Snapshot) throws(RaftError) {
        try wal.sync()
        // Entries written before this point may belong to another history: start a new segment and
        // record in the snapshot file that older segments no longer count.
        let firstSegment = try wal.rollOver()
        let file = SnapshotFile(firstSegment: firstSegment, snapshot: snapshot)
        try FileIO.writeAtomically(Self.checked(file.encode()), to: snapshotPath)
        snapshotFirstSegment = firstSegment
        try wal.removeSegments(through: 0, before: firstSegment)
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

    private static func decodeChecked<T>(_ bytes: [UInt8], file: String,
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

// MARK: - SnapshotFile

/// The snapshot file: the first WAL segment that still counts, then the encoded snapshot.
struct SnapshotFile {
    var firstSegment: UInt64
    var snapshot: Snapshot

    func encode() -> [UInt8] {
        var writer = ByteWriter()
        writer.u64(firstSegment)
        writer.bytes.append(contentsOf: RaftCodec.encode(snapshot))
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(RaftError) -> SnapshotFile {
        var reader = ByteReader(bytes)
        let first = try reader.u64("first segment")
        return SnapshotFile(firstSegment: first, snapshot: try RaftCodec.decodeSnapshot(Array(bytes[8...])))
    }
}
