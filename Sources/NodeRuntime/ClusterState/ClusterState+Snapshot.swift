import DiscoCore
import DiscoRaft

// MARK: - Snapshot format

/// Snapshot encoding of the whole state (version 5), integers big-endian:
///
///     magic "DCSS" | version u8 = 5 | body length u64 | body | CRC-32C u32 of everything before
///     body: initialized u8 (0 or 1) [cluster name8, epoch u64]
///           appliedIndex u64
///           member count u32, members in ascending ID order
///             (id name8, raftAddress name8, apiAddress name8, voter u8,
///              keyHash u8-length (0 or 32) + bytes (absent before version 3),
///              roles u8-count (≤ 32) + name8 each (absent before version 4),
///              generation u64 (absent before version 5, read as 0))
///           trimmedThrough u64 (the last seq dropped by retention; absent in version 1, read as 0)
///           event count u64, events in sequence order (seq is implied: trimmedThrough + 1, + 2, …)
///             (index u64 strictly increasing and ≤ appliedIndex, timeMillis i64, data u32 + bytes)
///           idempotency key count u32 (≤ 10,000), oldest first (absent before version 3)
///             (key name8, seq u64 ≥ 1 and ≤ the last seq, index u64 ≤ appliedIndex, timeMillis i64)
///           key-value count u32 (≤ 100,000), entries in ascending key order (absent before version 4)
///             (namespace name8, name name8, created u64, revision u64 (1 ≤ created ≤ revision ≤
///              appliedIndex), value u32-length + bytes (≤ 64 KiB))
///
/// Version 1 (before events could be trimmed), version 2 (before member key hashes and
/// idempotency keys), version 3 (before member roles and the key-value state) and version 4
/// (before member generations) snapshots are still read.
/// Restoring is strict: wrong magic, version, length or checksum, trailing bytes, unsorted or
/// duplicate members, out-of-order event indexes and event data that is not JSON are refused.
extension ClusterState {
    /// The snapshot format version.
    public static let snapshotVersion: UInt8 = 5
    /// Versions ``init(snapshot:)`` reads.
    static let readableSnapshotVersions: ClosedRange<UInt8> = 1...5
    static let snapshotMagic: [UInt8] = Array("DCSS".utf8)
    static let snapshotSubject = "cluster snapshot"
    /// Magic, version and body length.
    static let snapshotHeaderBytes = 4 + 1 + 8

    // MARK: Encoding

    /// The size of the snapshot parts are written in (``writeSnapshot(partSize:_:)``).
    public static let snapshotPartSize = 64 << 10

    /// The whole state as snapshot bytes, in one buffer of the exact size (the parts of
    /// ``writeSnapshot(partSize:_:)`` joined).
    public func snapshotBytes() -> [UInt8] {
        let layout = snapshotLayout()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(layout.count)
        Self.writeSnapshot(layout, events: events, partSize: Self.snapshotPartSize) { (part: [UInt8]) in bytes.append(contentsOf: part) }
        return bytes
    }

    /// The snapshot as a source that writes it in parts of about `partSize` bytes (one event
    /// larger than that makes its part larger): the events, most of the state, are copied into
    /// one part at a time, never all into one buffer. Its size is known before it is written; the
    /// source keeps this state (a copy-on-write value) until it is dropped. The members,
    /// idempotency keys and key-value entries are encoded here, once, as two parts.
    public func snapshotSource(partSize: Int = ClusterState.snapshotPartSize) -> SnapshotSource {
        let layout = snapshotLayout()
        let events = events
        return SnapshotSource(count: layout.count) { write throws(RaftError) in
            try Self.writeSnapshot(layout, events: events, partSize: partSize, write)
        }
    }

    /// The parts around the events, and the whole snapshot's size.
    private struct SnapshotLayout {
        var head: [UInt8]
        var tail: [UInt8]
        var bodyLength: Int
        var count: Int { ClusterState.snapshotHeaderBytes + bodyLength + 4 }
    }

    private func snapshotLayout() -> SnapshotLayout {
        var head = ClusterByteWriter()
        if let cluster, let epoch {
            head.bool(true)
            head.name(cluster)
            head.u64(epoch)
        } else {
            head.bool(false)
        }
        head.u64(appliedIndex)
        head.u32(UInt32(truncatingIfNeeded: members.count))
        for member in sortedMembers { member.encode(into: &head) }
        head.u64(trimmedThrough)
        head.u64(UInt64(events.count))
        var tail = ClusterByteWriter()
        tail.u32(UInt32(truncatingIfNeeded: idempotency.count))
        for record in idempotency.live {
            tail.name(record.key)
            tail.u64(record.seq)
            tail.u64(record.index)
            tail.i64(record.timeMillis)
        }
        keyValues.encode(into: &tail)
        // Per event: index u64, timeMillis i64, data u32 + bytes.
        return SnapshotLayout(head: head.bytes, tail: tail.bytes,
                              bodyLength: head.bytes.count + events.count * 20 + eventBytes + tail.bytes.count)
    }

    private static func writeSnapshot<Failure: Error>(_ layout: SnapshotLayout, events: [ClusterEvent], partSize: Int,
                                                      _ emit: ([UInt8]) throws(Failure) -> Void) throws(Failure) {
        var checksum: UInt32 = 0
        var part = ClusterByteWriter()
        part.bytes.reserveCapacity(min(layout.count, 2 * partSize))
        func flush(atLeast threshold: Int) throws(Failure) {
            guard part.bytes.count >= threshold else { return }
            checksum = CRC32C.checksum(part.bytes, continuing: checksum)
            try emit(part.bytes)
            part.bytes.removeAll(keepingCapacity: true)
        }
        part.bytes.append(contentsOf: snapshotMagic)
        part.u8(snapshotVersion)
        part.u64(UInt64(layout.bodyLength))
        part.bytes.append(contentsOf: layout.head)
        for event in events {
            try flush(atLeast: max(partSize, 1))
            part.u64(event.index)
            part.i64(event.timeMillis)
            part.blob(event.data)
        }
        part.bytes.append(contentsOf: layout.tail)
        part.u32(CRC32C.checksum(part.bytes, continuing: checksum))
        try emit(part.bytes)
    }

    // MARK: Decoding

    /// Reads a snapshot written by ``snapshotBytes()``.
    public init(snapshot bytes: [UInt8]) throws(ClusterCodingError) {
        var header = ClusterByteReader(bytes, subject: Self.snapshotSubject)
        let magic = [try header.u8("magic"), try header.u8("magic"), try header.u8("magic"), try header.u8("magic")]
        guard magic == Self.snapshotMagic else {
            throw header.error(.corrupt, "magic", at: 0, "expected \"DCSS\", found bytes \(magic)")
        }
        let version = try header.u8("version")
        guard Self.readableSnapshotVersions.contains(version) else {
            throw header.error(.unsupportedVersion, "version", at: 4,
                               "expected snapshot version \(Self.readableSnapshotVersions.lowerBound) to \(Self.snapshotVersion), found \(version)")
        }
        let declared = try header.u64("bodyLength")
        let actual = UInt64(bytes.count - Self.snapshotHeaderBytes)
        guard declared <= actual, actual - declared == 4 else {
            let problem: ClusterCodingError.Code = actual < 4 || declared > actual - 4 ? .truncated : .trailingBytes
            throw header.error(problem, "bodyLength", at: 5,
                               "header declares a \(declared)-byte body plus a 4-byte checksum, but \(actual) bytes follow the header")
        }
        let bodyEnd = Self.snapshotHeaderBytes + Int(declared)
        var trailer = ClusterByteReader(bytes, subject: Self.snapshotSubject, range: bodyEnd..<bytes.count)
        let stored = try trailer.u32("checksum")
        let computed = CRC32C.checksum(bytes[..<bodyEnd])
        guard stored == computed else {
            throw trailer.error(.corrupt, "checksum", at: bodyEnd,
                                "stored CRC-32C \(hex(stored)) does not match the content's \(hex(computed))")
        }
        var body = ClusterByteReader(bytes, subject: Self.snapshotSubject, range: Self.snapshotHeaderBytes..<bodyEnd)
        try self.init(body: &body, version: version)
    }

    private init(body reader: inout ClusterByteReader, version: UInt8) throws(ClusterCodingError) {
        var cluster: String?
        var epoch: UInt64?
        if try reader.bool("initialized") {
            cluster = try reader.name("cluster")
            epoch = try reader.u64("epoch")
        }
        let appliedIndex = try reader.u64("appliedIndex")
        let memberCount = try reader.u32("memberCount")
        var members: [NodeID: ClusterMember] = [:]
        var previousID: NodeID?
        for position in 0..<memberCount {
            let start = reader.offset
            let member = try ClusterMember.decode(from: &reader, field: "members[\(position)].", withKeyHash: version >= 3,
                                                withRoles: version >= 4, withGeneration: version >= 5)
            if let previousID, !(previousID < member.id) {
                throw reader.error(.invalidValue, "members[\(position)].id", at: start + 1,
                                   "expected IDs in strictly ascending order, found \(member.id) after \(previousID)")
            }
            previousID = member.id
            members[member.id] = member
        }
        let trimmedStart = reader.offset
        var trimmedThrough: UInt64 = 0
        if version >= 2 { trimmedThrough = try reader.u64("trimmedThrough") }
        let countStart = reader.offset
        let eventCount = try reader.u64("eventCount")
        guard trimmedThrough <= UInt64.max - eventCount else {
            throw reader.error(.invalidValue, "eventCount", at: countStart,
                               "\(eventCount) events after trimmed sequence \(trimmedThrough) overflow the sequence numbers")
        }
        guard trimmedThrough <= appliedIndex else {
            throw reader.error(.invalidValue, "trimmedThrough", at: trimmedStart,
                               "expected at most the applied index \(appliedIndex) (one event per entry), found \(trimmedThrough)")
        }
        var events: [ClusterEvent] = []
        var previousIndex: UInt64 = 0
        var seq = trimmedThrough
        while seq < trimmedThrough + eventCount {
            seq += 1
            let field = "events[seq \(seq)]"
            let indexStart = reader.offset
            let index = try reader.u64(field + ".index")
            guard index > previousIndex, index <= appliedIndex else {
                throw reader.error(.invalidValue, field + ".index", at: indexStart,
                                   "expected an index above \(previousIndex) and at most the applied index \(appliedIndex), found \(index)")
            }
            previousIndex = index
            let timeMillis = try reader.i64(field + ".timeMillis")
            let dataStart = reader.offset + 4
            let data = try reader.blob(field + ".data", limit: ClusterLimits.maxEventBytes)
            if let (code, message) = ClusterFieldCheck.eventDataProblem(data) {
                throw reader.error(code, field + ".data", at: dataStart, message)
            }
            events.append(ClusterEvent(seq: seq, index: index, timeMillis: timeMillis, data: data))
        }
        var window = IdempotencyWindow()
        if version >= 3 { window = try Self.readIdempotencyWindow(&reader, lastSeq: seq, appliedIndex: appliedIndex) }
        var keyValues = KVStore()
        if version >= 4 { keyValues = try KVStore.decode(from: &reader, appliedIndex: appliedIndex) }
        try reader.expectEnd()
        self.init(cluster: cluster, epoch: epoch, members: members, events: events, trimmedThrough: trimmedThrough,
                  appliedIndex: appliedIndex, idempotency: window, keyValues: keyValues)
    }

    private static func readIdempotencyWindow(_ reader: inout ClusterByteReader, lastSeq: UInt64,
                                              appliedIndex: UInt64) throws(ClusterCodingError) -> IdempotencyWindow {
        let countStart = reader.offset
        let count = try reader.u32("idempotencyCount")
        guard count <= IdempotencyWindow.maxKeys else {
            throw reader.error(.invalidValue, "idempotencyCount", at: countStart,
                               "expected at most \(IdempotencyWindow.maxKeys) keys, found \(count)")
        }
        var records: [IdempotencyWindow.Record] = []
        var seen = Set<String>()
        for position in 0..<count {
            let field = "idempotency[\(position)]"
            let keyStart = reader.offset + 1
            let key = try reader.name(field + ".key")
            if let problem = IdempotencyWindow.problem(with: key) {
                throw reader.error(.invalidValue, field + ".key", at: keyStart, "idempotency key \(problem)")
            }
            guard seen.insert(key).inserted else {
                throw reader.error(.invalidValue, field + ".key", at: keyStart, "expected each key once, found \(key.debugDescription) again")
            }
            let seqStart = reader.offset
            let seq = try reader.u64(field + ".seq")
            let index = try reader.u64(field + ".index")
            guard seq >= 1, seq <= lastSeq, index >= 1, index <= appliedIndex else {
                throw reader.error(.invalidValue, field + ".seq", at: seqStart,
                                   "expected seq 1...\(lastSeq) and index 1...\(appliedIndex), found seq \(seq) at index \(index)")
            }
            records.append(IdempotencyWindow.Record(key: key, seq: seq, index: index, timeMillis: try reader.i64(field + ".timeMillis")))
        }
        return IdempotencyWindow(records: records)
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
