#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import DiscoCore
import DiscoSystem

// MARK: - SnapshotFile

/// The snapshot file: `[u32 CRC-32C of the rest][u64 first WAL segment that still counts]
/// [snapshot metadata][u32 data length][data]` (the checked-file layout around the first segment
/// and the encoded snapshot). The data is as large as the node's state, so it is written as its
/// source produces it, part by part, and read in place: never joined with its header in a second
/// buffer.
struct SnapshotFile {
    var firstSegment: UInt64
    var snapshot: Snapshot

    /// Replaces `path` with a snapshot file atomically: a temporary file gets a zero checksum,
    /// the header and the data's parts as they come (the checksum computed along), then the
    /// checksum in its place; it is fsynced, renamed over `path`, and the directory fsynced. A
    /// crash or failure at any point leaves the old file whole.
    static func write(firstSegment: UInt64, metadata: SnapshotMetadata, data: SnapshotSource,
                      to path: String) throws(RaftError) {
        guard data.count <= RaftCodec.maxSnapshotSize else {
            throw RaftError(.invalidArgument, "a snapshot of \(data.count) bytes is over the limit of \(RaftCodec.maxSnapshotSize) bytes")
        }
        var head = ByteWriter()
        head.u64(firstSegment)
        RaftCodec.write(metadata, to: &head)
        head.u32(UInt32(truncatingIfNeeded: data.count))
        let temporary = path + ".tmp"
        try FileIO.remove(temporary)
        let fd = try FileIO.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do throws(RaftError) {
            try FileIO.writeAll(fd, [0, 0, 0, 0] + head.bytes, path: temporary)
            var checksum = CRC32C.checksum(head.bytes)
            try data.write { part throws(RaftError) in
                try FileIO.writeAll(fd, part, path: temporary)
                checksum = CRC32C.checksum(part, continuing: checksum)
            }
            var prefix = ByteWriter()
            prefix.u32(checksum)
            try FileIO.writeAll(fd, prefix.bytes, at: 0, path: temporary)
            try FileIO.sync(fd, path: temporary)
        } catch {
            close(fd)
            try? FileIO.remove(temporary)
            throw error
        }
        close(fd)
        try FileIO.rename(temporary, to: path)
        try FileIO.syncDirectory(DurableFile.directory(of: path))
    }

    /// Reads and checks the file at `path`. The data is read straight into its own buffer (the
    /// state's size, once): the header is read first, then the rest of the file into the data.
    /// A file whose header does not parse, or whose size disagrees with it, is read whole to say
    /// what is wrong with it.
    static func read(_ path: String) throws(RaftError) -> SnapshotFile {
        let fd = try FileIO.open(path, flags: O_RDONLY)
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileIO.failure("fstat", path) }
        let size = Int(info.st_size)
        let head = try FileIO.read(fd, count: min(size, 64 << 10), path: path)
        guard head.count > 4 else { return try readWhole(path) }
        var reader = ByteReader(head, offset: 4)
        guard let first = try? reader.u64("first segment"), let meta = try? RaftCodec.readSnapshotMetadata(&reader),
              let length = try? reader.u32("snapshot data length"), Int(length) <= RaftCodec.maxSnapshotSize else {
            return try readWhole(path)
        }
        guard reader.offset + Int(length) == size else {
            // Checked whole, a file cut short only fails its checksum: say what is missing.
            if reader.offset + Int(length) > size { throw cutShort(path, size: size, expected: reader.offset + Int(length), index: meta.index) }
            return try readWhole(path)
        }
        let dataStart = reader.offset
        let inHead = head.count - dataStart
        var failure: RaftError?
        let data = [UInt8](unsafeUninitializedCapacity: Int(length)) { buffer, initialized in
            head.withUnsafeBufferPointer { source in
                for position in 0..<inHead { buffer[position] = source[dataStart + position] }
            }
            initialized = inHead
            do throws(RaftError) {
                initialized += try FileIO.read(fd, into: UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[inHead...])), path: path)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        guard data.count == Int(length) else { return try readWhole(path) }
        let stored = head[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard CRC32C.checksum(data, continuing: CRC32C.checksum(head[4..<dataStart])) == stored else {
            throw RaftError(.corruptStorage, "\(path) at offset 4: checksum mismatch")
        }
        return SnapshotFile(firstSegment: first, snapshot: Snapshot(metadata: meta, data: data))
    }

    /// The error for a file shorter than its header says.
    private static func cutShort(_ path: String, size: Int, expected: Int, index: UInt64) -> RaftError {
        RaftError(.corruptStorage, "\(path): \(size) bytes, but its header records a snapshot through entry \(index) of \(expected) "
            + "bytes: the file was cut short (the log before it is gone); restore it from a backup, or move this node's data "
            + "directory away and let it join the cluster again as a new member")
    }

    /// Reads the whole file into one buffer and checks it (the data copied out of it).
    private static func readWhole(_ path: String) throws(RaftError) -> SnapshotFile {
        let bytes = try FileIO.readAll(path)
        guard bytes.count >= 4 else { throw RaftError(.corruptStorage, "\(path): only \(bytes.count) bytes, expected a checksum and a payload") }
        let stored = bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard CRC32C.checksum(bytes[4...]) == stored else { throw RaftError(.corruptStorage, "\(path) at offset 4: checksum mismatch") }
        do throws(RaftError) {
            var reader = ByteReader(bytes, offset: 4)
            let first = try reader.u64("first segment")
            let meta = try RaftCodec.readSnapshotMetadata(&reader)
            let data = try reader.blob("snapshot data", limit: RaftCodec.maxSnapshotSize)
            try reader.expectEnd("snapshot")
            return SnapshotFile(firstSegment: first, snapshot: Snapshot(metadata: meta, data: data))
        } catch {
            throw RaftError(.corruptStorage, "\(path): \(error.message)")
        }
    }
}
