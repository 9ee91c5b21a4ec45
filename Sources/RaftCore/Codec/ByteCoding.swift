import DiscoCore

// MARK: - ByteWriter

/// Appends big-endian fixed-width integers and length-prefixed fields to a byte buffer.
package struct ByteWriter {
    package var bytes: [UInt8] = []

    package init() {}

    package mutating func u8(_ value: UInt8) { bytes.append(value) }
    package mutating func u16(_ value: UInt16) { bytes.append(UInt8(value >> 8)); bytes.append(UInt8(value & 0xFF)) }
    package mutating func u32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((value >> UInt32(shift)) & 0xFF)) }
    }
    package mutating func u64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((value >> UInt64(shift)) & 0xFF)) }
    }
    package mutating func bool(_ value: Bool) { u8(value ? 1 : 0) }
    package mutating func blob(_ data: [UInt8]) {
        u32(UInt32(data.count))
        bytes.append(contentsOf: data)
    }
    package mutating func nodeID(_ id: NodeID) {
        let utf8 = Array(id.rawValue.utf8)
        u16(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

// MARK: - ByteReader

/// Reads what ``ByteWriter`` wrote, refusing anything truncated, oversized or out of range with
/// an error that names the field and the offset.
package struct ByteReader {
    package let bytes: [UInt8]
    package private(set) var offset = 0

    package init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Reads `bytes` from `offset` on (errors name offsets in `bytes`).
    package init(_ bytes: [UInt8], offset: Int) {
        self.bytes = bytes
        self.offset = min(max(0, offset), bytes.count)
    }

    package var remaining: Int { bytes.count - offset }

    private func fail(_ what: String, _ detail: String) -> RaftError {
        RaftError(.malformedFrame, "\(what) at byte \(offset): \(detail)")
    }

    private mutating func take(_ count: Int, _ what: String) throws(RaftError) -> ArraySlice<UInt8> {
        guard count <= remaining else {
            throw fail(what, "needs \(count) bytes but only \(remaining) remain (truncated input)")
        }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    package mutating func u8(_ what: String) throws(RaftError) -> UInt8 { try take(1, what).first ?? 0 }

    package mutating func u16(_ what: String) throws(RaftError) -> UInt16 {
        try take(2, what).reduce(0) { $0 << 8 | UInt16($1) }
    }

    package mutating func u32(_ what: String) throws(RaftError) -> UInt32 {
        try take(4, what).reduce(0) { $0 << 8 | UInt32($1) }
    }

    package mutating func u64(_ what: String) throws(RaftError) -> UInt64 {
        try take(8, what).reduce(0) { $0 << 8 | UInt64($1) }
    }

    package mutating func bool(_ what: String) throws(RaftError) -> Bool {
        let value = try u8(what)
        guard value <= 1 else { throw fail(what, "expected 0 or 1, got \(value)") }
        return value == 1
    }

    package mutating func blob(_ what: String, limit: Int) throws(RaftError) -> [UInt8] {
        let length = Int(try u32("\(what) length"))
        guard length <= limit else { throw fail(what, "length \(length) exceeds the limit of \(limit) bytes") }
        return Array(try take(length, what))
    }

    package mutating func nodeID(_ what: String) throws(RaftError) -> NodeID {
        let length = Int(try u16("\(what) length"))
        guard length >= 1, length <= 256 else { throw fail(what, "node ID length must be 1...256, got \(length)") }
        let raw = try take(length, what)
        guard let text = String(validating: raw, as: UTF8.self), let id = NodeID(text) else {
            throw fail(what, "not a valid node ID (UTF-8 without whitespace or control characters)")
        }
        return id
    }

    /// A count of items that each need at least `minimumItemSize` bytes, bounded by what remains.
    package mutating func count(_ what: String, minimumItemSize: Int, limit: Int) throws(RaftError) -> Int {
        let value = Int(try u32(what))
        guard value <= limit else { throw fail(what, "\(value) exceeds the limit of \(limit)") }
        guard value * minimumItemSize <= remaining else {
            throw fail(what, "\(value) items cannot fit in the \(remaining) bytes that remain (truncated input)")
        }
        return value
    }

    package func expectEnd(_ what: String) throws(RaftError) {
        guard remaining == 0 else { throw fail(what, "\(remaining) unexpected trailing bytes") }
    }
}
