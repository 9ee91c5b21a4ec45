import DiscoCore

// MARK: - Limits

/// Size limits of the replicated state's fields.
public enum ClusterLimits {
    /// Longest cluster name, node ID or address, in UTF-8 bytes.
    public static let maxNameBytes = 255
    /// Largest event payload (a JSON text), in bytes: 1 MiB.
    public static let maxEventBytes = 1 << 20
}

// MARK: - Writing

/// Appends big-endian integers and length-prefixed fields.
struct ClusterByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func i64(_ value: Int64) { u64(UInt64(bitPattern: value)) }

    mutating func bool(_ value: Bool) { u8(value ? 1 : 0) }

    /// A name: one length byte, then UTF-8 (the caller has checked the length).
    mutating func name(_ text: String) {
        bytes.append(UInt8(truncatingIfNeeded: text.utf8.count))
        bytes.append(contentsOf: text.utf8)
    }

    /// A blob: a 32-bit length, then the bytes.
    mutating func blob(_ data: [UInt8]) {
        u32(UInt32(truncatingIfNeeded: data.count))
        bytes.append(contentsOf: data)
    }
}

// MARK: - Reading

/// Reads what ``ClusterByteWriter`` writes, with errors naming the field and offset.
struct ClusterByteReader {
    let bytes: [UInt8]
    let subject: String
    private(set) var offset: Int
    let end: Int

    init(_ bytes: [UInt8], subject: String, range: Range<Int>? = nil) {
        self.bytes = bytes
        self.subject = subject
        offset = range?.lowerBound ?? 0
        end = range?.upperBound ?? bytes.count
    }

    var remaining: Int { end - offset }
    var isAtEnd: Bool { offset == end }

    func error(_ code: ClusterCodingError.Code, _ field: String, at position: Int? = nil, _ message: String) -> ClusterCodingError {
        ClusterCodingError(subject: subject, code: code, field: field, offset: position ?? offset, message: message)
    }

    private mutating func take(_ count: Int, _ field: String) throws(ClusterCodingError) -> Range<Int> {
        guard count <= remaining else {
            throw error(.truncated, field, "needs \(count) byte\(count == 1 ? "" : "s"), only \(remaining) remain")
        }
        defer { offset += count }
        return offset..<offset + count
    }

    mutating func u8(_ field: String) throws(ClusterCodingError) -> UInt8 {
        bytes[try take(1, field).lowerBound]
    }

    mutating func u32(_ field: String) throws(ClusterCodingError) -> UInt32 {
        try take(4, field).reduce(UInt32(0)) { $0 << 8 | UInt32(bytes[$1]) }
    }

    mutating func u64(_ field: String) throws(ClusterCodingError) -> UInt64 {
        try take(8, field).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[$1]) }
    }

    mutating func i64(_ field: String) throws(ClusterCodingError) -> Int64 {
        Int64(bitPattern: try u64(field))
    }

    /// A flag byte that must be exactly 0 or 1.
    mutating func bool(_ field: String) throws(ClusterCodingError) -> Bool {
        let start = offset
        let value = try u8(field)
        guard value <= 1 else { throw error(.invalidValue, field, at: start, "expected 0 or 1, found \(value)") }
        return value == 1
    }

    /// A length-prefixed UTF-8 name.
    mutating func name(_ field: String) throws(ClusterCodingError) -> String {
        let count = Int(try u8(field + ".length"))
        let start = offset
        let range = try take(count, field)
        guard let text = String(validating: bytes[range], as: UTF8.self) else {
            throw error(.invalidValue, field, at: start, "expected UTF-8 text, found invalid bytes")
        }
        return text
    }

    /// A length-prefixed node ID (non-empty, printable).
    mutating func nodeID(_ field: String) throws(ClusterCodingError) -> NodeID {
        let start = offset + 1
        let text = try name(field)
        guard let id = NodeID(text) else {
            throw error(.invalidValue, field, at: start,
                        "expected a node ID (non-empty, no whitespace or control characters), found \(text.debugDescription)")
        }
        return id
    }

    /// A length-prefixed blob of at most `limit` bytes.
    mutating func blob(_ field: String, limit: Int) throws(ClusterCodingError) -> [UInt8] {
        let start = offset
        let count = Int(try u32(field + ".length"))
        guard count <= limit else {
            throw error(.tooLarge, field, at: start, "length \(count) exceeds the limit of \(limit) bytes")
        }
        return Array(bytes[try take(count, field)])
    }

    /// Refuses bytes after the last field.
    func expectEnd() throws(ClusterCodingError) {
        guard isAtEnd else {
            throw error(.trailingBytes, "end", "expected the end, found \(remaining) more byte\(remaining == 1 ? "" : "s")")
        }
    }
}

// MARK: - Validation shared by encoding and decoding

enum ClusterFieldCheck {
    /// Nil when `text` fits the name limit; else why not.
    static func nameProblem(_ text: String) -> String? {
        let count = text.utf8.count
        return count <= ClusterLimits.maxNameBytes ? nil : "\(count) bytes exceeds the limit of \(ClusterLimits.maxNameBytes)"
    }

    /// Nil when `data` is an acceptable event payload (≤ 1 MiB, one JSON text); else why not.
    static func eventDataProblem(_ data: [UInt8]) -> (ClusterCodingError.Code, String)? {
        guard data.count <= ClusterLimits.maxEventBytes else {
            return (.tooLarge, "\(data.count) bytes exceeds the limit of \(ClusterLimits.maxEventBytes) bytes")
        }
        do {
            _ = try JSONValue.parse(data)
            return nil
        } catch {
            return (.invalidValue, "expected one JSON value: \(error)")
        }
    }
}
