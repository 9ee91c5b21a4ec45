// MARK: - DNSMessageError

/// Why a DNS message could not be read (or written): what is wrong, where, and what was expected.
///
/// The codec never traps on bad input; every defect ends up here with the byte offset at which
/// it was found.
public struct DNSMessageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of defect. New codes may be added; match the ones you care about.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The message ends before a field that must be there.
        public static let truncated = Code("truncated")
        /// A compression pointer that points forward, to itself, into the header or past the end.
        public static let badPointer = Code("bad compression pointer")
        /// A name longer than 255 bytes in wire form, or a label longer than 63 bytes.
        public static let nameTooLong = Code("name too long")
        /// A label length byte with the reserved high bits `01` or `10`.
        public static let reservedLabelType = Code("reserved label type")
        /// RDATA whose length does not fit its record type.
        public static let badRecordData = Code("bad record data")
        /// Bytes left over after the last record the header announced.
        public static let trailingBytes = Code("trailing bytes")
        /// A text name that cannot be a DNS name.
        public static let invalidName = Code("invalid name")
        /// A message that cannot be encoded (for example more than 65535 records).
        public static let tooLarge = Code("too large")
    }

    /// What kind of defect.
    public let code: Code
    /// Byte offset in the message where the defect was found.
    public let offset: Int
    /// What exactly is wrong and what would be right.
    public let detail: String

    public init(_ code: Code, at offset: Int, _ detail: String) {
        self.code = code
        self.offset = offset
        self.detail = detail
    }

    public var description: String { "malformed DNS message (\(code)) at byte \(offset): \(detail)" }
}
