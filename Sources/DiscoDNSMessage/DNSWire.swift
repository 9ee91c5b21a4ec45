// MARK: - Reading

/// A bounds-checked cursor over a whole DNS message (the whole message is kept so that
/// compression pointers can be followed).
struct DNSReader {
    let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    private func need(_ count: Int, _ what: String) throws(DNSMessageError) {
        guard count <= remaining else {
            throw DNSMessageError(
                .truncated, at: offset,
                "\(what) needs \(count) bytes but the message has \(remaining) left")
        }
    }

    mutating func u8(_ what: String) throws(DNSMessageError) -> UInt8 {
        try need(1, what)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16(_ what: String) throws(DNSMessageError) -> UInt16 {
        try need(2, what)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u32(_ what: String) throws(DNSMessageError) -> UInt32 {
        try need(4, what)
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    mutating func take(_ count: Int, _ what: String) throws(DNSMessageError) -> [UInt8] {
        try need(count, what)
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// Reads a possibly compressed name (RFC 1035 §4.1.4).
    ///
    /// Loop protection: every pointer must point strictly before the start of the label
    /// sequence that contains it, so each jump goes further back and reading always ends.
    /// Pointers into the 12-byte header are rejected, and so is a name longer than 255 bytes.
    mutating func name(_ what: String) throws(DNSMessageError) -> DNSName {
        let start = offset
        var position = offset
        var segmentStart = offset
        var resumeAt: Int?
        var labels: [[UInt8]] = []
        var wireLength = 1
        while true {
            guard position < bytes.count else {
                throw DNSMessageError(.truncated, at: position, "\(what) (name starting at byte \(start)) runs past the end of the message")
            }
            let length = bytes[position]
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    offset = resumeAt ?? position + 1
                    return DNSName(validatedLabels: labels)
                }
                let count = Int(length)
                guard position + 1 + count <= bytes.count else {
                    throw DNSMessageError(.truncated, at: position, "\(what): label of \(count) bytes runs past the end of the message")
                }
                wireLength += 1 + count
                guard wireLength <= DNSName.maxWireLength else {
                    throw DNSMessageError(.nameTooLong, at: position, "\(what) (name starting at byte \(start)) is longer than 255 bytes")
                }
                labels.append(Array(bytes[(position + 1)..<(position + 1 + count)]))
                position += 1 + count
            case 0xC0:
                guard position + 1 < bytes.count else {
                    throw DNSMessageError(.truncated, at: position, "\(what): compression pointer cut off after its first byte")
                }
                let target = Int(length & 0x3F) << 8 | Int(bytes[position + 1])
                guard target >= DNSHeader.length else {
                    throw DNSMessageError(.badPointer, at: position, "\(what): compression pointer to byte \(target) points into the 12-byte header")
                }
                guard target < segmentStart else {
                    throw DNSMessageError(
                        .badPointer, at: position,
                        "\(what): compression pointer to byte \(target) does not point before byte \(segmentStart) (forward or looping pointer)")
                }
                if resumeAt == nil { resumeAt = position + 2 }
                position = target
                segmentStart = target
            default:
                throw DNSMessageError(
                    .reservedLabelType, at: position,
                    "\(what): label type bits \(length >> 6 == 1 ? "01" : "10") are reserved; expected a length (00) or a pointer (11)")
            }
        }
    }
}

// MARK: - Writing

/// Appends big-endian fields and names, compressing names (RFC 1035 §4.1.4) unless told not to.
///
/// Every name suffix written at an offset a pointer can reach (below 0x4000) is remembered by its
/// exact bytes, so case is kept as given; a later name that ends in a remembered suffix points to
/// it. ``mark()`` and ``rollback(to:)`` undo a record that did not fit.
struct DNSWriter {
    private(set) var bytes: [UInt8] = []
    private let compression: Bool
    private var suffixes: [ArraySlice<[UInt8]>: Int] = [:]
    private var remembered: [ArraySlice<[UInt8]>] = []

    /// A point to return to.
    struct Mark {
        fileprivate let count: Int
        fileprivate let remembered: Int
    }

    init(compression: Bool = true) {
        self.compression = compression
        bytes.reserveCapacity(512)
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    mutating func u32(_ value: UInt32) {
        u16(UInt16(value >> 16))
        u16(UInt16(value & 0xFFFF))
    }

    mutating func append(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }

    /// Writes `name`, ending in a pointer to an earlier copy of its longest known suffix when
    /// `compressible` (SRV targets are not, RFC 2782); either way its suffixes become known.
    mutating func name(_ name: DNSName, compressible: Bool = true) {
        let labels = name.labels
        for index in labels.indices {
            let suffix = labels[index...]
            if compression, compressible, let target = suffixes[suffix] {
                u16(0xC000 | UInt16(target))
                return
            }
            if compression, bytes.count < 0x4000, suffixes[suffix] == nil {
                suffixes[suffix] = bytes.count
                remembered.append(suffix)
            }
            bytes.append(UInt8(labels[index].count))
            bytes.append(contentsOf: labels[index])
        }
        bytes.append(0)
    }

    /// Overwrites a 16-bit field written earlier (used for RDLENGTH and counts).
    mutating func patch16(at index: Int, _ value: UInt16) {
        bytes[index] = UInt8(value >> 8)
        bytes[index + 1] = UInt8(value & 0xFF)
    }

    func mark() -> Mark { Mark(count: bytes.count, remembered: remembered.count) }

    /// Drops everything written since `mark`, names remembered included.
    mutating func rollback(to mark: Mark) {
        bytes.removeSubrange(mark.count...)
        for suffix in remembered[mark.remembered...] { suffixes[suffix] = nil }
        remembered.removeSubrange(mark.remembered...)
    }
}
