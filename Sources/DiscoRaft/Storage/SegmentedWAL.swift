#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// MARK: - SegmentedWAL

/// An append-only log of CRC-protected records split into segment files of bounded size.
///
/// Records are buffered by ``append(_:)`` and written and fsynced together by ``sync()`` (group
/// commit). Recovery truncates a torn tail of the last segment (a write cut short) and refuses
/// damage to anything written in full, naming the file and offset.
final class SegmentedWAL {
    struct Segment {
        let name: SegmentName
        var size: Int
        /// Highest entry index written into this segment (0 if none).
        var maxIndex: UInt64
    }

    /// Receives each record recovery reads, with its segment's sequence number, in write order
    /// (handed over one at a time: a log can be far larger than what it still needs to keep).
    typealias Visitor = (_ segment: UInt64, _ record: WALFormat.Record) throws(RaftError) -> Void

    /// What recovery found.
    struct Recovery {
        /// A torn tail that was (or, read-only, would be) cut off: file and offset.
        var truncatedTail: (file: String, offset: Int, reason: String)?
    }

    let directory: String
    let segmentSize: Int
    private(set) var segments: [Segment]
    private var fd: Int32
    private var pending: [UInt8] = []
    private var pendingMaxIndex: UInt64 = 0
    private(set) var syncCount = 0

    private init(directory: String, segmentSize: Int, segments: [Segment], fd: Int32) {
        self.directory = directory
        self.segmentSize = segmentSize
        self.segments = segments
        self.fd = fd
    }

    deinit { close(fd) }

    private static func path(_ directory: String, _ name: SegmentName) -> String { directory + "/" + name.fileName }
    private func path(_ name: SegmentName) -> String { Self.path(directory, name) }

    // MARK: Opening and recovery

    /// Opens (creating if needed) the WAL in `directory`, repairing a torn tail; `visit` gets
    /// every record read.
    static func open(directory: String, segmentSize: Int, visit: Visitor) throws(RaftError) -> (SegmentedWAL, Recovery) {
        try FileIO.makeDirectory(directory)
        var (segments, recovery) = try scan(directory: directory, repair: true, visit: visit)
        if segments.isEmpty {
            let first = SegmentName(sequence: 1)
            try createSegment(directory: directory, name: first)
            segments = [Segment(name: first, size: WALFormat.headerSize, maxIndex: 0)]
        }
        guard let last = segments.last else { throw RaftError(.io, "no WAL segment in \(directory)") }
        let fd = try FileIO.open(path(directory, last.name), flags: O_WRONLY | O_APPEND)
        return (SegmentedWAL(directory: directory, segmentSize: segmentSize, segments: segments, fd: fd), recovery)
    }

    private static func createSegment(directory: String, name: SegmentName) throws(RaftError) {
        let segmentPath = path(directory, name)
        let fd = try FileIO.open(segmentPath, flags: O_WRONLY | O_CREAT | O_EXCL)
        defer { close(fd) }
        try FileIO.writeAll(fd, WALFormat.magic, path: segmentPath)
        try FileIO.sync(fd, path: segmentPath)
        try FileIO.syncDirectory(directory)
    }

    /// Reads every segment in order, handing each record to `visit`. With `repair`, a torn tail
    /// is cut off the last segment.
    static func scan(directory: String, repair: Bool, visit: Visitor) throws(RaftError) -> ([Segment], Recovery) {
        let names = try FileIO.list(directory).compactMap(SegmentName.init(fileName:)).sorted()
        var segments: [Segment] = []
        var recovery = Recovery()
        for (position, name) in names.enumerated() {
            let segmentPath = path(directory, name)
            let isLast = position == names.count - 1
            let bytes = try FileIO.readAll(segmentPath)
            guard bytes.count >= WALFormat.headerSize, Array(bytes.prefix(WALFormat.headerSize)) == WALFormat.magic else {
                if isLast, WALFormat.magic.starts(with: bytes) {
                    // A segment whose creation was interrupted: start it over.
                    if repair {
                        try FileIO.remove(segmentPath)
                        try createSegment(directory: directory, name: name)
                    }
                    segments.append(Segment(name: name, size: WALFormat.headerSize, maxIndex: 0))
                    continue
                }
                throw RaftError(.corruptStorage, "\(segmentPath) at offset 0: not a WAL segment (bad header)")
            }
            var offset = WALFormat.headerSize
            var maxIndex: UInt64 = 0
            scanning: while offset < bytes.count {
                switch WALFormat.read(bytes, at: offset) {
                case .record(let record, let next, _):
                    if case .entry(let entry) = record { maxIndex = max(maxIndex, entry.index) }
                    try visit(name.sequence, record)
                    offset = next
                case .invalid(let reason):
                    guard isLast else {
                        throw RaftError(.corruptStorage,
                                        "\(segmentPath) at offset \(offset): \(reason); corruption before the last segment cannot be repaired")
                    }
                    // Only the last batch can be torn: a later batch means this one was synced.
                    if let later = laterBatchStart(in: bytes, after: offset) {
                        throw RaftError(.corruptStorage,
                                        "\(segmentPath) at offset \(offset): \(reason), but a later synced batch starts at offset \(later); refusing to drop data from the middle of the log")
                    }
                    // Within the last batch, only a write cut short may be dropped: a record that is
                    // there in full was synced with its batch, and may have been acknowledged.
                    guard WALFormat.looksTorn(bytes, at: offset) else {
                        throw RaftError(.corruptStorage, damagedLastBatch(segmentPath, offset: offset, reason: reason, size: bytes.count))
                    }
                    if repair { try FileIO.truncate(segmentPath, to: offset) }
                    recovery.truncatedTail = (segmentPath, offset, reason)
                    break scanning
                }
            }
            segments.append(Segment(name: name, size: offset, maxIndex: maxIndex))
        }
        return (segments, recovery)
    }

    /// Why a damaged record in the last batch stops recovery, and the ways on.
    private static func damagedLastBatch(_ segmentPath: String, offset: Int, reason: String, size: Int) -> String {
        "\(segmentPath) at offset \(offset): \(reason) in a record that was written in full (an interrupted write "
            + "leaves a short record or sectors of zeros); refusing to drop it and the \(size - offset) bytes after it, which "
            + "were synced and may hold acknowledged entries. If the disk damaged this node's log, move its data "
            + "directory away and let it join the cluster again as a new member; to drop those records anyway, truncate "
            + "the file to \(offset) bytes (truncate -s \(offset) \(segmentPath))"
    }

    /// The offset of a valid record after `offset` that starts a group-commit batch, if any.
    private static func laterBatchStart(in bytes: [UInt8], after offset: Int) -> Int? {
        var candidate = offset + 1
        while candidate + 8 < bytes.count {
            if case .record(_, _, true) = WALFormat.read(bytes, at: candidate) { return candidate }
            candidate += 1
        }
        return nil
    }

    // MARK: Writing

    /// Buffers a record; it is written and made durable by the next ``sync()``.
    func append(_ record: WALFormat.Record) {
        pending.append(contentsOf: WALFormat.frame(record, batchStart: pending.isEmpty))
        if case .entry(let entry) = record { pendingMaxIndex = max(pendingMaxIndex, entry.index) }
    }

    /// Writes buffered records and fsyncs once. Rolls to a new segment first when the current
    /// one is full.
    func sync() throws(RaftError) {
        guard !pending.isEmpty else { return }
        if let last = segments.last, last.size >= segmentSize { try rollOver() }
        guard let current = segments.last else { return }
        let currentPath = path(current.name)
        try FileIO.writeAll(fd, pending, path: currentPath)
        try FileIO.sync(fd, path: currentPath, dataOnly: true)
        syncCount += 1
        segments[segments.count - 1].size += pending.count
        segments[segments.count - 1].maxIndex = max(current.maxIndex, pendingMaxIndex)
        pending = []
        pendingMaxIndex = 0
    }

    /// Starts a new segment; returns its sequence number.
    @discardableResult
    func rollOver() throws(RaftError) -> UInt64 {
        let next = SegmentName(sequence: (segments.last?.name.sequence ?? 0) + 1)
        try Self.createSegment(directory: directory, name: next)
        let newFD = try FileIO.open(path(next), flags: O_WRONLY | O_APPEND)
        close(fd)
        fd = newFD
        segments.append(Segment(name: next, size: WALFormat.headerSize, maxIndex: 0))
        return next.sequence
    }

    /// Deletes whole segments, oldest first, while every entry in them is at or below `index`
    /// (the active segment is kept), or older than segment `before`.
    func removeSegments(through index: UInt64, before sequence: UInt64 = 0) throws(RaftError) {
        var removed = false
        while segments.count > 1, let first = segments.first, first.maxIndex <= index || first.name.sequence < sequence {
            try FileIO.remove(path(first.name))
            segments.removeFirst()
            removed = true
        }
        if removed { try FileIO.syncDirectory(directory) }
    }

    /// The sequence number of the segment being written.
    var activeSequence: UInt64 { segments.last?.name.sequence ?? 0 }
}
