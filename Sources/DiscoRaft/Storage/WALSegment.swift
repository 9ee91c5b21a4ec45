// MARK: - WAL record format

/// The on-disk framing of the write-ahead log.
///
/// A segment file starts with the 8-byte magic `DISCOWL1`, followed by records:
/// `[u32 payload length][u32 CRC32C of payload][payload]` (big-endian), where the payload is a
/// type byte and a body: `1` = an entry (``RaftCodec`` entry encoding), `2` = a commit index (u64).
/// The type byte's high bit marks the first record of a group-commit batch (one write, one fsync):
/// recovery uses it to tell a torn last batch from corruption of data that was already synced.
enum WALFormat {
    static let magic: [UInt8] = Array("DISCOWL1".utf8)
    static let headerSize = 8
    static let maxPayload = RaftCodec.maxDataSize + 1024

    enum Record: Equatable {
        case entry(Entry)
        case commit(UInt64)
    }

    static let batchStartFlag: UInt8 = 0x80

    static func frame(_ record: Record, batchStart: Bool = false) -> [UInt8] {
        var payload = ByteWriter()
        let flag = batchStart ? batchStartFlag : 0
        switch record {
        case .entry(let entry):
            payload.u8(1 | flag)
            RaftCodec.write(entry, to: &payload)
        case .commit(let index):
            payload.u8(2 | flag)
            payload.u64(index)
        }
        var framed = ByteWriter()
        framed.u32(UInt32(payload.bytes.count))
        framed.u32(CRC32C.checksum(payload.bytes))
        framed.bytes.append(contentsOf: payload.bytes)
        return framed.bytes
    }

    static func decodePayload(_ payload: ArraySlice<UInt8>) throws(RaftError) -> (Record, batchStart: Bool) {
        var reader = ByteReader(Array(payload))
        let type = try reader.u8("record type")
        let batchStart = type & batchStartFlag != 0
        switch type & ~batchStartFlag {
        case 1:
            let entry = try RaftCodec.readEntry(&reader)
            try reader.expectEnd("entry record")
            return (.entry(entry), batchStart)
        case 2:
            let index = try reader.u64("commit index")
            try reader.expectEnd("commit record")
            return (.commit(index), batchStart)
        case let other:
            throw RaftError(.corruptStorage, "unknown record type \(other)")
        }
    }

    /// The outcome of reading one record at an offset.
    enum Read {
        case record(Record, next: Int, batchStart: Bool)
        /// Not a valid record here (truncated, bad length, or checksum mismatch).
        case invalid(String)
    }

    /// The sector size a torn write is judged by (the smallest a disk writes atomically).
    static let sectorSize = 512

    /// Whether the invalid bytes at `offset` look like a write that was cut short rather than a
    /// record written whole and damaged since (as etcd's WAL tells them apart): the header or the
    /// record runs past the end of the file, or a sector the record touches reads as zeros from
    /// the record (or the sector's start) to the sector's end or the end of the file, as a sector
    /// the disk never wrote does. A checksum mismatch in a record that is there in full is damage.
    static func looksTorn(_ bytes: [UInt8], at offset: Int) -> Bool {
        guard bytes.count - offset >= 8 else { return true }
        let length = Int(bytes[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        let end = offset + 8 + length
        guard end <= bytes.count else { return true }
        var sector = offset / sectorSize * sectorSize
        while sector < end {
            let from = max(sector, offset)
            let to = min(sector + sectorSize, bytes.count)
            if bytes[from..<to].allSatisfy({ $0 == 0 }) { return true }
            sector += sectorSize
        }
        return false
    }

    static func read(_ bytes: [UInt8], at offset: Int) -> Read {
        guard bytes.count - offset >= 8 else { return .invalid("incomplete record header") }
        let length = Int(bytes[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        let crc = bytes[offset + 4..<offset + 8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard length >= 1, length <= maxPayload else { return .invalid("implausible record length \(length)") }
        guard bytes.count - offset - 8 >= length else { return .invalid("record of \(length) bytes extends past the end of the file") }
        let payload = bytes[offset + 8..<offset + 8 + length]
        guard CRC32C.checksum(payload) == crc else { return .invalid("checksum mismatch") }
        do {
            let (record, batchStart) = try decodePayload(payload)
            return .record(record, next: offset + 8 + length, batchStart: batchStart)
        } catch {
            return .invalid("undecodable payload: \(error.message)")
        }
    }
}

// MARK: - Segment names

/// Segment files are named by a 16-hex-digit sequence number: `0000000000000001.wal`.
struct SegmentName: Comparable {
    let sequence: UInt64

    var fileName: String {
        let hex = String(sequence, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".wal"
    }

    init(sequence: UInt64) { self.sequence = sequence }

    init?(fileName: String) {
        guard fileName.hasSuffix(".wal"), fileName.count == 20,
              let value = UInt64(fileName.dropLast(4), radix: 16) else { return nil }
        sequence = value
    }

    static func < (lhs: SegmentName, rhs: SegmentName) -> Bool { lhs.sequence < rhs.sequence }
}
