// MARK: - ClusterCodingError

/// Why a replicated command or a state snapshot could not be encoded or decoded: a stable code,
/// the field concerned, the byte offset (when decoding) and a message saying what was found and
/// what would be right.
///
/// `description` reads like "cluster command: truncated at byte 7 (field raftAddress): needs 12
/// bytes, only 3 remain".
public struct ClusterCodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The class of error, for programmatic checks.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The input ended inside a field.
        public static let truncated = Code(rawValue: "truncated")
        /// The format version byte is not one this code reads.
        public static let unsupportedVersion = Code(rawValue: "unsupported-version")
        /// The command tag byte names no known command.
        public static let unknownTag = Code(rawValue: "unknown-tag")
        /// A field is longer than its limit (names 255 bytes, event data 1 MiB).
        public static let tooLarge = Code(rawValue: "too-large")
        /// A field holds a value outside its domain (bad UTF-8, an invalid node ID, a flag that is
        /// neither 0 nor 1, event data that is not JSON, a sequence that is not dense, …).
        public static let invalidValue = Code(rawValue: "invalid-value")
        /// Bytes follow the last field.
        public static let trailingBytes = Code(rawValue: "trailing-bytes")
        /// A snapshot's magic bytes or checksum do not match.
        public static let corrupt = Code(rawValue: "corrupt")
    }

    /// What was being read or written: `"cluster command"` or `"cluster snapshot"`.
    public let subject: String
    public let code: Code
    /// The field concerned (e.g. `"version"`, `"tag"`, `"member.raftAddress"`, `"event.data"`).
    public let field: String
    /// The byte offset where the problem was found; nil when encoding.
    public let offset: Int?
    /// What was found and what was expected, without the position.
    public let message: String

    public init(subject: String, code: Code, field: String, offset: Int?, message: String) {
        self.subject = subject
        self.code = code
        self.field = field
        self.offset = offset
        self.message = message
    }

    public var description: String {
        if let offset { return "\(subject): \(code) at byte \(offset) (field \(field)): \(message)" }
        return "\(subject): \(code) (field \(field)): \(message)"
    }
}
