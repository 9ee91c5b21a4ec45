// MARK: - NodeID

/// The stable identity of a node in a Disco cluster (`-node-id`).
///
/// A node ID never changes for the life of a node's data directory, even when its addresses do.
/// IDs are compared byte for byte; they must be non-empty and printable (no whitespace or
/// control characters), so they can appear in logs, URLs and JSON without escaping surprises.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The ID as the operator wrote it.
    public let rawValue: String

    /// Creates an ID, or returns `nil` if `rawValue` is empty or contains whitespace or
    /// control characters.
    public init?(_ rawValue: String) {
        guard NodeID.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// Creates an ID from a literal written in code. Invalid literals are a programming error.
    public init(stringLiteral value: String) {
        precondition(NodeID.isValid(value), "invalid NodeID literal \(value.debugDescription)")
        self.rawValue = value
    }

    /// Whether `value` is an acceptable node ID.
    public static func isValid(_ value: String) -> Bool {
        guard !value.isEmpty, value.utf8.count <= 256 else { return false }
        return value.unicodeScalars.allSatisfy { scalar in
            !(scalar.properties.isWhitespace || scalar.value < 0x20 || scalar.value == 0x7F)
        }
    }

    public var description: String { rawValue }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }
}

// MARK: - Reserved IDs

extension NodeID {
    /// The recipient the Raft transport addresses its cluster-name greeting to (a hello). No node
    /// may take it as its ID: a message to such a node could be read as a hello, and its
    /// hello-free connections refused.
    public static let raftHelloRecipient: NodeID = "(cluster-name)"

    /// Why this ID cannot be a node's (it is reserved), or nil when it can.
    public var reservationProblem: String? {
        guard self == Self.raftHelloRecipient else { return nil }
        return "\(rawValue.debugDescription) is reserved: the Raft transport addresses its cluster-name greeting "
            + "to it; choose another node ID"
    }
}
