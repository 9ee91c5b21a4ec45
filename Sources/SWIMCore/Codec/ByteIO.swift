// MARK: - ByteWriter

/// Appends the primitive encodings used by the SWIM wire format.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    /// Unsigned LEB128.
    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    /// A varint byte length followed by UTF-8.
    mutating func string(_ value: String) {
        varint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }
}

// MARK: - ByteReader

/// Reads the primitives back, failing with a ``SWIM/CodecError`` that names the field.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8], from offset: Int = 0) {
        self.bytes = bytes
        self.offset = min(max(offset, 0), bytes.count)
    }

    var remaining: Int { bytes.count - offset }
    var isAtEnd: Bool { offset == bytes.count }

    mutating func u8(_ field: String) throws(SWIM.CodecError) -> UInt8 {
        guard offset < bytes.count else {
            throw SWIM.CodecError(.truncated, at: offset, "input ended before \(field) (1 byte expected)")
        }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16(_ field: String) throws(SWIM.CodecError) -> UInt16 {
        guard remaining >= 2 else {
            throw SWIM.CodecError(.truncated, at: offset, "input ended inside \(field) (2 bytes expected, \(remaining) left)")
        }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func varint(_ field: String) throws(SWIM.CodecError) -> UInt64 {
        let start = offset
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else {
                throw SWIM.CodecError(.truncated, at: offset, "input ended inside varint \(field)")
            }
            let byte = bytes[offset]
            offset += 1
            let payload = UInt64(byte & 0x7F)
            if shift == 63, payload > 1 {
                throw SWIM.CodecError(.badLength, at: start, "varint \(field) exceeds 64 bits")
            }
            value |= payload << shift
            if byte & 0x80 == 0 {
                if offset - start > 1, byte == 0 {
                    throw SWIM.CodecError(.badLength, at: start, "varint \(field) is not minimally encoded")
                }
                return value
            }
            shift += 7
            guard shift <= 63 else {
                throw SWIM.CodecError(.badLength, at: start, "varint \(field) is longer than 10 bytes")
            }
        }
    }

    /// A varint that must be at most `limit`.
    mutating func count(_ field: String, limit: Int) throws(SWIM.CodecError) -> Int {
        let start = offset
        let value = try varint(field)
        guard value <= UInt64(limit) else {
            throw SWIM.CodecError(.oversize, at: start, "\(field) is \(value), at most \(limit) allowed")
        }
        return Int(value)
    }

    /// A length-prefixed UTF-8 string of at most `maxBytes` bytes.
    mutating func string(_ field: String, maxBytes: Int) throws(SWIM.CodecError) -> String {
        let start = offset
        let length = try count("length of \(field)", limit: maxBytes)
        guard remaining >= length else {
            throw SWIM.CodecError(.truncated, at: start, "\(field) declares \(length) bytes but only \(remaining) remain")
        }
        let slice = bytes[offset..<offset + length]
        offset += length
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw SWIM.CodecError(.invalidValue, at: start, "\(field) is not valid UTF-8")
        }
        return text
    }
}
