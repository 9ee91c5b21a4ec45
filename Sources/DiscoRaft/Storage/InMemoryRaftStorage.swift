// MARK: - InMemoryRaftStorage

/// Storage held in memory as encoded records (the real entry encoding), with crash faults for
/// the simulator: unsynced records are lost on a crash, and the last one may be torn.
public struct InMemoryRaftStorage: RaftStorage, Sendable {
    enum Record: Sendable {
        case entry([UInt8])
        case hardState([UInt8])
    }

    private var synced: [Record] = []
    private var unsynced: [Record] = []
    private var snapshotBytes: [UInt8]?
    /// Number of sync calls, for tests and statistics.
    public private(set) var syncCount = 0

    public init() {}

    public func load() throws(RaftError) -> (state: PersistentState, snapshot: Snapshot?) {
        var replay = LogReplay()
        var hardState = HardState()
        var snapshot: Snapshot?
        if let snapshotBytes {
            let decoded = try RaftCodec.decodeSnapshot(snapshotBytes)
            replay.snapshotIndex = decoded.metadata.index
            snapshot = decoded
        }
        // A record that does not decode can only be a torn tail (the writer never produces one),
        // so replay stops there, as WAL recovery does.
        replaying: for (position, record) in (synced + unsynced).enumerated() {
            switch record {
            case .entry(let bytes):
                guard let entry = try? RaftCodec.decodeEntry(bytes) else { break replaying }
                if let gap = replay.apply(entry) { throw RaftError(.corruptStorage, "record \(position): \(gap)") }
            case .hardState(let bytes):
                guard let decoded = try? RaftCodec.decodeHardState(bytes) else { break replaying }
                hardState = decoded
            }
        }
        return (PersistentState(hardState: hardState, snapshot: snapshot?.metadata, entries: replay.entries), snapshot)
    }

    public mutating func append(_ entries: [Entry]) throws(RaftError) {
        for entry in entries { unsynced.append(.entry(RaftCodec.encode(entry))) }
    }

    public mutating func setHardState(_ state: HardState) throws(RaftError) {
        unsynced.append(.hardState(RaftCodec.encode(state)))
    }

    public mutating func saveSnapshot(_ metadata: SnapshotMetadata, data: SnapshotSource) throws(RaftError) {
        let snapshot = Snapshot(metadata: metadata, data: try data.bytes())
        try sync()
        snapshotBytes = RaftCodec.encode(snapshot)
        // Rewrite the record list without what the snapshot covers (a compaction).
        let (state, _) = try load()
        synced = state.entries.map { .entry(RaftCodec.encode($0)) } + [.hardState(RaftCodec.encode(state.hardState))]
    }

    public mutating func installSnapshot(_ snapshot: Snapshot) throws(RaftError) {
        try sync()
        snapshotBytes = RaftCodec.encode(snapshot)
        let (state, _) = try load()
        synced = [.hardState(RaftCodec.encode(state.hardState))]
    }

    public func storedSnapshot() throws(RaftError) -> Snapshot? {
        try snapshotBytes.map { bytes throws(RaftError) in try RaftCodec.decodeSnapshot(bytes) }
    }

    public mutating func sync() throws(RaftError) {
        synced.append(contentsOf: unsynced)
        unsynced = []
        syncCount += 1
    }

    /// Simulates a crash: unsynced records are lost; with `tornBytes`, the first unsynced record
    /// survives cut to that many bytes (a torn write).
    public mutating func crash(tornBytes: Int? = nil) {
        if let tornBytes, let first = unsynced.first {
            switch first {
            case .entry(let bytes) where tornBytes < bytes.count:
                synced.append(.entry(Array(bytes.prefix(tornBytes))))
            case .hardState(let bytes) where tornBytes < bytes.count:
                synced.append(.hardState(Array(bytes.prefix(tornBytes))))
            default:
                break
            }
        }
        unsynced = []
    }

    /// Simulates a disk that acknowledged fsyncs it did not perform: the last `count` synced
    /// records vanish (for checking that the simulator notices lost acknowledged writes).
    public mutating func loseSyncedRecords(_ count: Int) {
        synced.removeLast(min(count, synced.count))
    }

    /// Drops a torn record left by ``crash(tornBytes:)`` and everything after it (what recovery
    /// of a real log does on restart).
    public mutating func truncateTornTail() {
        let firstTorn = synced.firstIndex { record in
            switch record {
            case .entry(let bytes): (try? RaftCodec.decodeEntry(bytes)) == nil
            case .hardState(let bytes): (try? RaftCodec.decodeHardState(bytes)) == nil
            }
        }
        if let firstTorn { synced.removeSubrange(firstTorn...) }
    }

    /// Records held, for statistics.
    public var recordCount: Int { synced.count + unsynced.count }
}
