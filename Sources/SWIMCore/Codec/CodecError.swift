// MARK: - CodecError

extension SWIM {
    /// Why bytes could not be decoded as a SWIM packet or push-pull state. `description` says
    /// what was wrong, where, and what would have been valid.
    public struct CodecError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The kind of failure; extensible.
        public struct Code: Hashable, Sendable, CustomStringConvertible {
            let name: String
            public var description: String { name }
            /// The input ended in the middle of a field.
            public static let truncated = Code(name: "truncated")
            /// The version byte is not one this decoder knows.
            public static let unsupportedVersion = Code(name: "unsupported version")
            /// The message or gossip kind byte is unknown.
            public static let unknownType = Code(name: "unknown type")
            /// The input, a string or a list is larger than allowed.
            public static let oversize = Code(name: "oversize")
            /// A length or count field is malformed.
            public static let badLength = Code(name: "bad length")
            /// A field's value is not acceptable (bad node ID, host, UTF-8, status...).
            public static let invalidValue = Code(name: "invalid value")
            /// Bytes remain after a complete message.
            public static let trailingBytes = Code(name: "trailing bytes")
        }

        public let code: Code
        /// Byte offset at which the problem was found.
        public let offset: Int
        /// What was wrong and what would have been valid.
        public let detail: String

        public init(_ code: Code, at offset: Int, _ detail: String) {
            self.code = code
            self.offset = offset
            self.detail = detail
        }

        public var description: String { "SWIM decode error (\(code)) at byte \(offset): \(detail)" }
    }
}
