import DiscoCore

// MARK: - RaftCodec

/// The binary encoding of Raft messages (the payload of an internode frame), log entries (the
/// payload of a WAL record), configurations, hard state and snapshot metadata.
///
/// Integers are big-endian; byte strings and node IDs carry a length prefix. A message starts
/// with a format version and a type byte. Decoding is strict: truncated input, trailing bytes,
/// unknown versions, types or kinds, and sizes over the limits are errors naming the field and
/// byte offset.
public enum RaftCodec {
    /// The message format this build writes and reads.
    public static let version: UInt8 = 1
    /// Largest entry payload accepted (64 MiB).
    public static let maxDataSize = 64 << 20
    /// Largest snapshot accepted (1 GiB). A state machine's whole state is larger than any one
    /// entry: the node's own default bounds (64 MiB of events, 64 MiB of key-value data, and
    /// their bookkeeping) already exceed ``maxDataSize``.
    public static let maxSnapshotSize = 1 << 30
    /// Most entries accepted in one append.
    public static let maxEntriesPerMessage = 1 << 16
    /// Most members accepted in one configuration.
    public static let maxMembers = 1024

    // MARK: Entries

    public static func encode(_ entry: Entry) -> [UInt8] {
        var writer = ByteWriter()
        write(entry, to: &writer)
        return writer.bytes
    }

    public static func decodeEntry(_ bytes: [UInt8]) throws(RaftError) -> Entry {
        var reader = ByteReader(bytes)
        let entry = try readEntry(&reader)
        try reader.expectEnd("entry")
        return entry
    }

    package static func write(_ entry: Entry, to writer: inout ByteWriter) {
        writer.u64(entry.term)
        writer.u64(entry.index)
        writer.u8(entry.kind.rawValue)
        writer.blob(entry.data)
    }

    package static func readEntry(_ reader: inout ByteReader) throws(RaftError) -> Entry {
        let term = try reader.u64("entry term")
        let index = try reader.u64("entry index")
        let rawKind = try reader.u8("entry kind")
        guard let kind = EntryKind(rawValue: rawKind) else {
            throw RaftError(.malformedFrame, "entry kind at byte \(reader.offset - 1): unknown kind \(rawKind), expected 0 (normal), 1 (config) or 2 (noop)")
        }
        let data = try reader.blob("entry data", limit: maxDataSize)
        return Entry(term: term, index: index, kind: kind, data: data)
    }

    // MARK: Configurations

    public static func encode(_ config: ClusterConfig) -> [UInt8] {
        var writer = ByteWriter()
        write(config, to: &writer)
        return writer.bytes
    }

    public static func decodeConfig(_ bytes: [UInt8]) throws(RaftError) -> ClusterConfig {
        var reader = ByteReader(bytes)
        let config = try readConfig(&reader)
        try reader.expectEnd("configuration")
        return config
    }

    package static func write(_ config: ClusterConfig, to writer: inout ByteWriter) {
        writer.u32(UInt32(config.voters.count))
        for voter in config.voters { writer.nodeID(voter) }
        writer.u32(UInt32(config.learners.count))
        for learner in config.learners { writer.nodeID(learner) }
    }

    package static func readConfig(_ reader: inout ByteReader) throws(RaftError) -> ClusterConfig {
        var voters: [NodeID] = []
        for _ in 0..<(try reader.count("voter count", minimumItemSize: 3, limit: maxMembers)) {
            voters.append(try reader.nodeID("voter"))
        }
        var learners: [NodeID] = []
        for _ in 0..<(try reader.count("learner count", minimumItemSize: 3, limit: maxMembers)) {
            learners.append(try reader.nodeID("learner"))
        }
        // Only the canonical form is accepted: sorted, no duplicates, no member listed twice.
        let canonical = ClusterConfig(voters: voters, learners: learners)
        guard canonical.voters == voters, canonical.learners == learners else {
            throw RaftError(.malformedFrame,
                            "configuration before byte \(reader.offset): members must be sorted, unique, and either voter or learner")
        }
        return canonical
    }

    // MARK: Hard state and snapshot metadata

    public static func encode(_ state: HardState) -> [UInt8] {
        var writer = ByteWriter()
        writer.u64(state.term)
        writer.bool(state.vote != nil)
        if let vote = state.vote { writer.nodeID(vote) }
        writer.u64(state.commit)
        return writer.bytes
    }

    public static func decodeHardState(_ bytes: [UInt8]) throws(RaftError) -> HardState {
        var reader = ByteReader(bytes)
        let term = try reader.u64("term")
        let vote = try reader.bool("has vote") ? try reader.nodeID("vote") : nil
        let commit = try reader.u64("commit")
        try reader.expectEnd("hard state")
        return HardState(term: term, vote: vote, commit: commit)
    }

    package static func write(_ meta: SnapshotMetadata, to writer: inout ByteWriter) {
        writer.u64(meta.index)
        writer.u64(meta.term)
        write(meta.config, to: &writer)
    }

    package static func readSnapshotMetadata(_ reader: inout ByteReader) throws(RaftError) -> SnapshotMetadata {
        let index = try reader.u64("snapshot index")
        let term = try reader.u64("snapshot term")
        return SnapshotMetadata(index: index, term: term, config: try readConfig(&reader))
    }

    public static func encode(_ snapshot: Snapshot) -> [UInt8] {
        var writer = ByteWriter()
        write(snapshot.metadata, to: &writer)
        writer.blob(snapshot.data)
        return writer.bytes
    }

    public static func decodeSnapshot(_ bytes: [UInt8]) throws(RaftError) -> Snapshot {
        var reader = ByteReader(bytes)
        let meta = try readSnapshotMetadata(&reader)
        let data = try reader.blob("snapshot data", limit: maxSnapshotSize)
        try reader.expectEnd("snapshot")
        return Snapshot(metadata: meta, data: data)
    }
}
